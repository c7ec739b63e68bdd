import { execFile } from 'node:child_process';

/** One GPU as nvidia-smi reports it, memory in MiB. */
export interface GpuMemory {
  readonly index: number;
  readonly totalMiB: number;
  readonly usedMiB: number;
}

export const NVIDIA_SMI_ARGS = ['--query-gpu=index,memory.total,memory.used', '--format=csv,noheader,nounits'] as const;

/**
 * Parses `nvidia-smi --query-gpu=index,memory.total,memory.used --format=csv,noheader,nounits`:
 * one line per GPU, `0, 81559, 1234` (MiB, comma and space separated). A line that is not three
 * integers (`[N/A]` on some virtual GPUs, `[Not Supported]`) is skipped and named in `problems`.
 */
export function parseNvidiaSmi(text: string): { gpus: GpuMemory[]; problems: string[] } {
  const gpus: GpuMemory[] = [];
  const problems: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const fields = line.split(',').map((f) => f.trim());
    const [index, total, used] = fields.map((f) => (/^\d+$/.test(f) ? Number(f) : NaN));
    if (fields.length !== 3 || !Number.isSafeInteger(index) || !Number.isSafeInteger(total) || !Number.isSafeInteger(used)) {
      problems.push(`unreadable line ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    gpus.push({ index: index!, totalMiB: total!, usedMiB: used! });
  }
  return { gpus, problems };
}

/** Runs nvidia-smi (from PATH) once; rejects with a message an operator can act on. */
export function queryGpus(timeoutMs: number): Promise<{ gpus: GpuMemory[]; problems: string[] }> {
  return new Promise((resolve, reject) => {
    execFile('nvidia-smi', NVIDIA_SMI_ARGS, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      if (err !== null) {
        const code = (err as NodeJS.ErrnoException).code;
        reject(new Error(code === 'ENOENT' ? 'nvidia-smi is not on PATH' : `nvidia-smi failed: ${err.message.split('\n')[0]}`));
        return;
      }
      resolve(parseNvidiaSmi(stdout));
    });
  });
}

/** Total and used MiB over the GPUs `indices` names; `missing` lists the indices nvidia-smi did not report. */
export function sumGpus(gpus: readonly GpuMemory[], indices: readonly number[]): { totalMiB: number; usedMiB: number; missing: number[] } {
  let totalMiB = 0;
  let usedMiB = 0;
  const missing: number[] = [];
  for (const i of indices) {
    const g = gpus.find((x) => x.index === i);
    if (g === undefined) {
      missing.push(i);
      continue;
    }
    totalMiB += g.totalMiB;
    usedMiB += g.usedMiB;
  }
  return { totalMiB, usedMiB, missing };
}
