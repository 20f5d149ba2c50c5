import { cpus, totalmem, release } from 'node:os';

/** One line that says where a benchmark ran; only ratios from one run are comparable. */
export function machine() {
  const cpu = cpus();
  return `${cpu[0]?.model ?? 'unknown cpu'} × ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
}
