/** Dense attention: every cached key. The reference every sparse policy is measured against. */
import { SparsePolicy, type HeadSelection } from './policy';

export class FullPolicy extends SparsePolicy {
  readonly name = 'full';
  selectHead(): HeadSelection {
    return { kind: 'all' };
  }
}
