// Every metric family of the daemon, registered on one injected Registry.

import { collectDefaultMetrics, type Registry } from 'prom-client';
import type { HealthSample } from '../../types.js';
import type { HealthView } from '../view.js';
import { deviceInfo } from './deviceInfo.js';
import { deviceScore } from './deviceScore.js';
import { deviceStatus } from './deviceStatus.js';
import { deviceUp } from './deviceUp.js';
import { delay, observeDelay } from './delay.js';
import { disconnects } from './disconnects.js';
import { errors } from './errors.js';
import { lateness, observeLateness } from './lateness.js';
import { recoveries } from './recoveries.js';
import { recoveryGaveUp } from './recoveryGaveUp.js';
import { streaming } from './streaming.js';
import { xruns } from './xruns.js';

export interface DaemonMetrics {
  /** Feed one sample window of a device to the histograms. */
  observeSample(device: string, s: HealthSample): void;
  /** Drop a removed device's histogram series. */
  removeDevice(device: string): void;
}

export interface MetricsOptions {
  /** process_* and nodejs_* metrics from prom-client (default true). */
  processMetrics?: boolean;
}

export function registerMetrics(registry: Registry, view: HealthView, opts: MetricsOptions = {}): DaemonMetrics {
  deviceInfo(registry, view);
  deviceStatus(registry, view);
  deviceScore(registry, view);
  deviceUp(registry, view);
  recoveryGaveUp(registry, view);
  xruns(registry, view);
  errors(registry, view);
  disconnects(registry, view);
  recoveries(registry, view);
  streaming(registry, view);
  const late = lateness(registry);
  const del = delay(registry);
  // prom-client samples event-loop delay with a timer every 10 ms by default: 100 wake-ups a
  // second on a board where every one is taken from video. 100 ms still catches stalls that
  // matter to 20 ms periods (they delay the next sample window).
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  return {
    observeSample(device, s) {
      observeLateness(late, device, s);
      observeDelay(del, device, s);
    },
    removeDevice(device) {
      late.remove({ device });
      del.remove({ device });
    },
  };
}
