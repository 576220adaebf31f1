/**
 * Reusable buffers of one policy layer's fused selection (Quest pages, Double Sparsity tokens), so
 * a decode step allocates nothing: the item lists grow geometrically and the KvSelection object is
 * rebuilt only when the per-head count changes. (No score buffer: without one the native selection
 * keeps its scores in per-thread buffers that stay in cache, selection_contract.ts.) A returned
 * selection is valid until the next selection of the same layer (the decoding loop uses it at once).
 */
import type { KvSelection } from './contract';
import { headOffsets } from './selection_contract';

export class SelectionScratch {
  items = new Uint32Array(0);
  private last: { perHead: number; items: Uint32Array; selection: KvSelection } | null = null;

  /** Makes room for kvHeads heads choosing perHead entries each. */
  reserve(kvHeads: number, perHead: number): void {
    const i = kvHeads * perHead;
    if (this.items.length < i) this.items = new Uint32Array(Math.max(i, 2 * this.items.length));
  }

  /** The items as a selection of perHead entries per head (head h: items[h·perHead ..]). */
  selection(kvHeads: number, perHead: number, make: (offsets: Uint32Array, items: Uint32Array) => KvSelection): KvSelection {
    const l = this.last;
    if (l && l.perHead === perHead && l.items === this.items) return l.selection;
    const selection = make(headOffsets(kvHeads, perHead), this.items);
    this.last = { perHead, items: this.items, selection };
    return selection;
  }
}
