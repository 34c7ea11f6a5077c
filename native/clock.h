// CLOCK_MONOTONIC in nanoseconds: the one time base of samples, events and faults.
#pragma once

#include <cstdint>
#include <ctime>

namespace ah {

inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

inline int64_t TimespecNs(const timespec& ts) {
  return int64_t(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// Frames a clock at `rate` moves in `ns` (>= 0), exact over long spans: the
// mock card and the watcher's xrun gap both count with it, so they agree.
inline int64_t FramesIn(int64_t ns, unsigned rate) {
  return ns / 1000000000LL * rate + (ns % 1000000000LL) * rate / 1000000000LL;
}

}  // namespace ah
