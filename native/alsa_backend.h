// PcmBackend over alsa-lib: any PCM name (hw, plug, null, external plugins).
#pragma once

#include "pcm_backend.h"

namespace ah {

class AlsaBackend : public PcmBackend {
 public:
  ~AlsaBackend() override;

  int Open(const PcmConfig& cfg, NegotiatedParams* out) override;
  void Close() override;
  bool IsOpen() const override { return pcm_ != nullptr; }

  int PollCount() override;
  int FillPoll(pollfd* fds, int space) override;
  int Revents(pollfd* fds, int n, unsigned short* revents) override;

  int Prepare() override;
  int Start() override;
  int Resume() override;
  int64_t AvailUpdate() override;
  int64_t Read(void* buf, uint64_t frames) override;
  int64_t Write(const void* buf, uint64_t frames) override;
  int Status(PcmStatusInfo* out) override;
  snd_pcm_state_t State() override;
  int PresenceFd() override;
  void DrainPresence() override;
  int64_t TakeDiscarded() override;

 private:
  void CountDiscarded();

  int SetHwParams(const PcmConfig& cfg, NegotiatedParams* out);
  int SetSwParams(const NegotiatedParams& p);

  snd_pcm_t* pcm_ = nullptr;
  snd_pcm_status_t* status_ = nullptr;
  bool capture_ = true;
  int64_t bufferFrames_ = 0;
  int64_t discarded_ = 0;
  int inotifyFd_ = -1;
  int sndWatch_ = -1;
};

}  // namespace ah
