/**
 * Views of a Buffer for the response parser's body chunks, made cheaper than Node's
 * Buffer#subarray. That one is JavaScript in Node 20 which reads `this.buffer` (a call into C++
 * for every view) and goes through generic property loads; ~950 instructions a view against
 * ~680 here (callgrind, perf/RESULTS.md Optimisation 9). The view is a real Buffer: a Uint8Array
 * whose prototype chain runs through Buffer.prototype, as Node's own FastBuffer's does, so
 * Buffer.isBuffer holds and every Buffer method works on it.
 */
class BufferView extends Uint8Array {}
Object.setPrototypeOf(BufferView.prototype, Buffer.prototype);

// The ArrayBuffer and offset of the last Buffer viewed: upstream reads all land in one shared
// read buffer, so they are looked up (the C++ call) once, not once a view.
let lastSource: Buffer | null = null;
let lastArrayBuffer = new ArrayBuffer(0);
let lastOffset = 0;

/** buf[start, end) as a Buffer sharing buf's memory, like buf.subarray(start, end) for in-range offsets. */
export function viewOf(buf: Buffer, start: number, end: number): Buffer {
  if (buf !== lastSource) {
    lastSource = buf;
    lastArrayBuffer = buf.buffer as ArrayBuffer; // a SharedArrayBuffer works the same here
    lastOffset = buf.byteOffset;
  }
  return new BufferView(lastArrayBuffer, lastOffset + start, end - start) as unknown as Buffer;
}
