// The one interface the watcher drives: real alsa-lib or the mock card.
// Every call returns a negative errno on failure, like alsa-lib; none blocks.
#pragma once

#include <alsa/asoundlib.h>
#include <poll.h>
#include <cstdint>
#include <memory>

#include "pcm_config.h"

namespace ah {

struct PcmStatusInfo {
  snd_pcm_state_t state = SND_PCM_STATE_OPEN;
  int64_t avail = 0;        // frames ready (capture) or free (playback)
  int64_t delay = 0;        // frames between the application and the DAC/ADC
  int64_t tstampNs = 0;     // when avail/delay were sampled (CLOCK_MONOTONIC)
  int64_t triggerNs = 0;    // last start, or the moment of the xrun in XRUN state
  // Mock only: frames the card's clock produced (capture) or played
  // (playback) since its first start, xrun gaps included, at tstampNs. -1: unknown.
  int64_t deviceFrames = -1;
};

// States in which the device buffer holds frames (captured and not read, or
// written and not played) that a prepare or close would throw away.
inline bool BufferHoldsFrames(snd_pcm_state_t s) {
  switch (s) {
    case SND_PCM_STATE_PREPARED:
    case SND_PCM_STATE_RUNNING:
    case SND_PCM_STATE_XRUN:
    case SND_PCM_STATE_DRAINING:
    case SND_PCM_STATE_PAUSED:
    case SND_PCM_STATE_SUSPENDED: return true;
    default: return false;
  }
}

class PcmBackend {
 public:
  virtual ~PcmBackend() = default;

  // Opens, configures hw + sw params and prepares. Idempotent close first.
  virtual int Open(const PcmConfig& cfg, NegotiatedParams* out) = 0;
  virtual void Close() = 0;
  virtual bool IsOpen() const = 0;

  virtual int PollCount() = 0;
  virtual int FillPoll(pollfd* fds, int space) = 0;
  // Translates the raw revents of FillPoll's descriptors into POLLIN/POLLOUT/POLLERR.
  virtual int Revents(pollfd* fds, int n, unsigned short* revents) = 0;

  virtual int Prepare() = 0;
  virtual int Start() = 0;
  virtual int Resume() = 0;
  virtual int64_t AvailUpdate() = 0;
  virtual int64_t Read(void* buf, uint64_t frames) = 0;
  virtual int64_t Write(const void* buf, uint64_t frames) = 0;
  virtual int Status(PcmStatusInfo* out) = 0;
  virtual snd_pcm_state_t State() = 0;

  // Mock only: when the fault behind what is seen now was injected (0 = none).
  virtual int64_t TakeInjectNs() { return 0; }
  // A status read that changes nothing the watcher would notice, for the
  // frame accounting at each window's end. alsa-lib's status updates the
  // hardware pointer, which can raise an xrun the poll loop would otherwise
  // see later (a device stall): it says -ENOTSUP and the watcher uses what
  // it saw at the last transfer. The mock's card can be read quietly.
  virtual int QuietStatus(PcmStatusInfo*) { return -ENOTSUP; }
  // Mock only: PcmStatusInfo::deviceFrames while the PCM is closed (frozen). -1: unknown.
  virtual int64_t DeviceFrames() { return -1; }

  // Frames the device buffer still held when Prepare() or Close() threw them
  // away (capture: captured, never read; playback: written, never played),
  // summed since the last call.
  virtual int64_t TakeDiscarded() = 0;

  // While the device is gone: an fd that turns readable when it may be back
  // (a /dev/snd node appeared or changed; the mock's disconnect ended), or
  // -1 when the backend cannot tell. Drain it after each wake-up.
  virtual int PresenceFd() { return -1; }
  virtual void DrainPresence() {}
};

// "mock:<name>" selects the mock card; anything else goes to alsa-lib.
bool IsMockDevice(const std::string& device);
std::unique_ptr<PcmBackend> MakeBackend(const PcmConfig& cfg);

}  // namespace ah
