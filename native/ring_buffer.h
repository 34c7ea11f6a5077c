// Lock-free byte ring between the watcher thread and JS. Positions only grow
// (64-bit), so no ABA. Capture: the thread produces and, when JS falls
// behind, drops the oldest bytes itself by advancing the read position with a
// CAS; a reader whose CAS then fails discards its copy and retries.
// Playback: JS produces, the thread consumes; nothing is dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace ah {

class RingBuffer {
 public:
  explicit RingBuffer(size_t capacity, size_t align)
      : cap_(capacity - capacity % align), align_(align), data_(new uint8_t[cap_]) {}

  size_t Capacity() const { return cap_; }
  size_t Used() const {
    return size_t(write_.load(std::memory_order_acquire) - read_.load(std::memory_order_acquire));
  }

  // Producer. Returns the bytes of old data it had to drop to make room.
  size_t WriteDroppingOldest(const uint8_t* src, size_t n) {
    size_t dropped = 0;
    uint64_t w = write_.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t r = read_.load(std::memory_order_acquire);
      size_t free = cap_ - size_t(w - r);
      if (n <= free) break;
      size_t need = n - free;
      need += (align_ - need % align_) % align_;
      if (read_.compare_exchange_weak(r, r + need, std::memory_order_acq_rel)) {
        dropped += need;
        break;
      }
    }
    CopyIn(w, src, n);
    write_.store(w + n, std::memory_order_release);
    return dropped;
  }

  // Producer (playback side: JS). Writes what fits; returns the bytes taken.
  size_t WriteSome(const uint8_t* src, size_t n) {
    uint64_t w = write_.load(std::memory_order_relaxed);
    size_t free = cap_ - size_t(w - read_.load(std::memory_order_acquire));
    n = std::min(n, free);
    n -= n % align_;
    CopyIn(w, src, n);
    write_.store(w + n, std::memory_order_release);
    return n;
  }

  // Consumer. Copies up to `max` bytes; safe against a concurrent drop.
  size_t Read(uint8_t* dst, size_t max) {
    for (;;) {
      uint64_t r = read_.load(std::memory_order_acquire);
      uint64_t w = write_.load(std::memory_order_acquire);
      size_t n = std::min(size_t(w - r), max);
      n -= n % align_;
      CopyOut(r, dst, n);
      if (read_.compare_exchange_strong(r, r + n, std::memory_order_acq_rel)) return n;
    }
  }

  // Total bytes ever written / taken (read or dropped): frame accounting.
  uint64_t WritePos() const { return write_.load(std::memory_order_acquire); }
  uint64_t ReadPos() const { return read_.load(std::memory_order_acquire); }

  void Clear() { read_.store(write_.load(std::memory_order_acquire), std::memory_order_release); }

 private:
  // n == 0: return before memcpy, whose pointers must be valid even for 0
  // bytes (an empty Buffer's data is null: UBSan, write(Buffer.alloc(0))).
  void CopyIn(uint64_t pos, const uint8_t* src, size_t n) {
    if (n == 0) return;
    size_t off = size_t(pos % cap_);
    size_t first = std::min(n, cap_ - off);
    std::memcpy(data_.get() + off, src, first);
    std::memcpy(data_.get(), src + first, n - first);
  }
  void CopyOut(uint64_t pos, uint8_t* dst, size_t n) {
    if (n == 0) return;
    size_t off = size_t(pos % cap_);
    size_t first = std::min(n, cap_ - off);
    std::memcpy(dst, data_.get() + off, first);
    std::memcpy(dst + first, data_.get(), n - first);
  }

  const size_t cap_;
  const size_t align_;
  std::unique_ptr<uint8_t[]> data_;
  std::atomic<uint64_t> write_{0};
  std::atomic<uint64_t> read_{0};
};

}  // namespace ah
