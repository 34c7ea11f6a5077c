// One entry of a mock device's fault script (times from the first stream start).
#pragma once

#include <cstdint>

namespace ah {

enum class FaultType { kXrun, kStall, kDelay, kSuspend, kDisconnect, kOpenFail, kIoError };

struct MockFault {
  FaultType type = FaultType::kXrun;
  int64_t atNs = 0;
  int64_t durationNs = 0;   // stall, delay, suspend, disconnect
  int64_t extraNs = 0;      // delay
  int64_t everyNs = 0;      // xrun repeats
  uint32_t count = 1;       // xrun repeats, openFail
  int err = 0;              // openFail, ioError (positive errno)
};

}  // namespace ah
