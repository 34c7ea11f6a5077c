// Observer mode: PCMs another process owns, watched through /proc/asound.
export { PcmObserver, observePcm, DEFAULT_PROC_ROOT, type ObserveOptions } from './observer.js';
export { listOpenPcms, type OpenPcmInfo } from './list.js';
export { parsePcmSpec, resolveCardIndex, type PcmAddress, type PcmSpec } from './resolve.js';
export {
  parseStatus, parseStatusText, parseHwParams, parseSwParams, parseCards, parsePcmList, emptyStatus,
  type ProcStatus, type ProcHwParams, type ProcSwParams, type ProcCard, type ProcPcmEntry,
} from './procfs.js';
export { ObserveDetector, type DetectorOptions } from './detector.js';
