// Picks the backend from the device name.
#include "alsa_backend.h"
#include "mock_backend.h"

namespace ah {

bool IsMockDevice(const std::string& device) { return device.rfind("mock:", 0) == 0; }

std::unique_ptr<PcmBackend> MakeBackend(const PcmConfig& cfg) {
  if (IsMockDevice(cfg.device)) return std::make_unique<MockBackend>(cfg.faults, cfg.mockStartFrame);
  return std::make_unique<AlsaBackend>();
}

}  // namespace ah
