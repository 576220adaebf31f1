/**
 * Bounded reads from an untrusted model file: every read is checked against the file
 * size first, and lands straight in the typed array the tensor will use (no staging copy).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { SparsennError } from '../errors';

export function modelFileError(file: string, problem: string): SparsennError {
  return new SparsennError('ERR_MODEL_FILE', `${file}: ${problem}`);
}

export class ModelFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<ModelFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new SparsennError('ERR_MODEL_FILE', `${path}: cannot open (${(e as Error).message})`, { cause: e });
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw modelFileError(path, 'is not a regular file');
    }
    return new ModelFile(path, fh, st.size);
  }

  /** Reads exactly dst.byteLength bytes at offset into dst; `what` names the tensor in errors. */
  async readInto(dst: ArrayBufferView, offset: number, what: string): Promise<void> {
    const n = dst.byteLength;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + n > this.size)
      throw modelFileError(this.path, `${what}: bytes [${offset}, ${offset + n}) lie past the end of the ${this.size}-byte file`);
    const bytes = new Uint8Array(dst.buffer, dst.byteOffset, n);
    let done = 0;
    // FileHandle.read caps one call at 2 GiB; loop until the tensor is filled.
    while (done < n) {
      const chunk = Math.min(n - done, 1 << 30);
      const { bytesRead } = await this.fh.read(bytes, done, chunk, offset + done);
      if (bytesRead === 0) throw modelFileError(this.path, `${what}: file ended early (was it truncated while loading?)`);
      done += bytesRead;
    }
  }

  async readBytes(offset: number, n: number, what: string): Promise<Uint8Array> {
    const b = new Uint8Array(n);
    await this.readInto(b, offset, what);
    return b;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
