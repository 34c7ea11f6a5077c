// The frame every kernel-VM test file shares: skip with the reason printed
// (or, under AH_KERNEL_REQUIRE=1 as in CI, fail) when the VM or the build is
// missing, and look up the guest script's JSON result of one scenario.
import { describe, it } from 'vitest';
import { prepareVm, type VmResult } from './vm';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type R = Record<string, any>;

/** `describe` when the VM and `needs()` are there; else `describe.skip`, said out loud. */
export function vmSuite(label: string, needs: () => string | null = () => null): typeof describe {
  const st = prepareVm();
  const missing = st.ok ? needs() : st.reason;
  if (!missing) return describe;
  console.warn(`[kernel] ${label} tests SKIPPED: ${missing}`);
  if (process.env.AH_KERNEL_REQUIRE) {
    describe(`kernel VM: ${label}`, () => {
      it('can run', () => {
        throw new Error(`AH_KERNEL_REQUIRE is set but: ${missing}`);
      });
    });
  }
  return describe.skip;
}

/** `get(name)`: that scenario's result, or an error carrying the guest's output. */
export function scenarioGetter(by: Record<string, R>, run: () => VmResult): (name: string) => R {
  return (name) => {
    const r = by[name];
    if (!r) {
      const v = run();
      throw new Error(`no result for ${name}; guest stderr:\n${v.stderr}\nconsole tail:\n${v.console.slice(-2000)}`);
    }
    if (!r.ok) throw new Error(`${name} failed in the guest: ${r.error}`);
    return r;
  };
}
