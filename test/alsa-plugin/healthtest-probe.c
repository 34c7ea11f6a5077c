/*
 * healthtest-probe: a small poll-driven ALSA client for the plugin's tests
 * (what arecord cannot show: poll revents, states, errnos, fd leaks).
 *
 *   healthtest-probe stream DEV capture|playback MS [PERIOD_FRAMES [PERIODS]]
 *       non-blocking, 48000 Hz S16_LE stereo, poll() on the PCM's descriptors,
 *       snd_pcm_poll_descriptors_revents(); xrun -> prepare (+ start for
 *       capture); suspend -> resume until the state leaves SUSPENDED, then
 *       prepare; disconnect (or any other error) -> stop.  One JSON line per
 *       event on stdout, then a summary line.
 *   healthtest-probe leak DEV N
 *       N x (open, hw params, start, poll once, close); prints the open fds
 *       before and after.
 *
 * Built by build.sh next to the plugin.  Times are CLOCK_MONOTONIC ns.
 */
#define _GNU_SOURCE
#include <alsa/asoundlib.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const char *ename(int e)
{
	switch (e) {
	case EPIPE: return "EPIPE";
	case ESTRPIPE: return "ESTRPIPE";
	case ENODEV: return "ENODEV";
	case EAGAIN: return "EAGAIN";
	case EBUSY: return "EBUSY";
	case EIO: return "EIO";
	case EBADFD: return "EBADFD";
	case EINVAL: return "EINVAL";
	default: return "E?";
	}
}

static void revents_str(unsigned short r, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s%s%s", r & POLLIN ? "IN|" : "", r & POLLOUT ? "OUT|" : "",
		 r & POLLERR ? "ERR|" : "", r & POLLHUP ? "HUP|" : "", r & POLLNVAL ? "NVAL|" : "");
	if (*buf)
		buf[strlen(buf) - 1] = 0;
}

static int setup(snd_pcm_t *pcm, snd_pcm_uframes_t period, unsigned int periods)
{
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	snd_pcm_uframes_t buffer = period * periods;
	int err;

	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_sw_params_alloca(&sw);
	if ((err = snd_pcm_hw_params_any(pcm, hw)) < 0 ||
	    (err = snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
	    (err = snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE)) < 0 ||
	    (err = snd_pcm_hw_params_set_channels(pcm, hw, 2)) < 0 ||
	    (err = snd_pcm_hw_params_set_rate(pcm, hw, 48000, 0)) < 0 ||
	    (err = snd_pcm_hw_params_set_period_size(pcm, hw, period, 0)) < 0 ||
	    (err = snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &buffer)) < 0 ||
	    (err = snd_pcm_hw_params(pcm, hw)) < 0)
		return err;
	if ((err = snd_pcm_sw_params_current(pcm, sw)) < 0 ||
	    (err = snd_pcm_sw_params_set_avail_min(pcm, sw, period)) < 0 ||
	    (err = snd_pcm_sw_params_set_start_threshold(pcm, sw, buffer)) < 0 ||
	    (err = snd_pcm_sw_params(pcm, sw)) < 0)
		return err;
	return 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static int leak(const char *dev, int n)
{
	int before = -1, i, err;
	snd_pcm_t *pcm;

	for (i = 0; i < n + 1; i++) {
		if (i == 1)
			before = count_fds(); /* after alsa-lib's one-time setup */
		err = snd_pcm_open(&pcm, dev, SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK);
		if (err < 0) {
			printf("{\"ev\":\"openFail\",\"err\":\"%s\"}\n", ename(-err));
			return 1;
		}
		if ((err = setup(pcm, 960, 4)) < 0 || (err = snd_pcm_start(pcm)) < 0) {
			printf("{\"ev\":\"setupFail\",\"err\":\"%s\"}\n", ename(-err));
			snd_pcm_close(pcm);
			return 1;
		}
		{
			struct pollfd pfd[4];
			int nfds = snd_pcm_poll_descriptors(pcm, pfd, 4);
			if (nfds > 0)
				poll(pfd, (nfds_t)nfds, 1);
		}
		snd_pcm_close(pcm);
	}
	printf("{\"ev\":\"leak\",\"opens\":%d,\"fdsBefore\":%d,\"fdsAfter\":%d}\n", n, before, count_fds());
	return 0;
}

static int stream(const char *dev, int playback, long ms, snd_pcm_uframes_t period, unsigned int periods)
{
	snd_pcm_t *pcm;
	int16_t *buf;
	struct pollfd pfd[8];
	int nfds, err, fatal = 0;
	uint64_t t0, end, frames = 0, wakeups = 0, xruns = 0, suspends = 0, resumes = 0,
		resume_tries = 0, errors = 0, maxgap = 0, last = 0;
	snd_pcm_sframes_t delay_max = 0;
	char rs[64];
	snd_pcm_state_t st;

	err = snd_pcm_open(&pcm, dev, playback ? SND_PCM_STREAM_PLAYBACK : SND_PCM_STREAM_CAPTURE,
			   SND_PCM_NONBLOCK);
	if (err < 0) {
		printf("{\"ev\":\"openFail\",\"err\":\"%s\",\"tNs\":\"%llu\"}\n", ename(-err),
		       (unsigned long long)now_ns());
		return 2;
	}
	if ((err = setup(pcm, period, periods)) < 0) {
		printf("{\"ev\":\"setupFail\",\"err\":\"%s\"}\n", ename(-err));
		snd_pcm_close(pcm);
		return 2;
	}
	buf = calloc(period * periods, 4);
	if (!buf) {
		snd_pcm_close(pcm);
		return 2;
	}
	nfds = snd_pcm_poll_descriptors(pcm, pfd, 8);
	if (!playback)
		snd_pcm_start(pcm);
	t0 = last = now_ns();
	end = t0 + (uint64_t)ms * 1000000ULL;
	printf("{\"ev\":\"start\",\"tNs\":\"%llu\",\"nfds\":%d}\n", (unsigned long long)t0, nfds);
	while (!fatal && now_ns() < end) {
		unsigned short revents = 0;
		snd_pcm_sframes_t n;
		int tmo = (int)((end - now_ns()) / 1000000ULL) + 1;

		if (poll(pfd, (nfds_t)nfds, tmo) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		err = snd_pcm_poll_descriptors_revents(pcm, pfd, (unsigned int)nfds, &revents);
		if (err < 0) {
			printf("{\"ev\":\"reventsFail\",\"err\":\"%s\"}\n", ename(-err));
			break;
		}
		if (!revents)
			continue;
		{
			uint64_t t = now_ns();
			if (t - last > maxgap)
				maxgap = t - last;
			last = t;
		}
		wakeups++;
		{
			snd_pcm_sframes_t d;
			if (snd_pcm_delay(pcm, &d) == 0 && d > delay_max)
				delay_max = d;
		}
		if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
			st = snd_pcm_state(pcm);
			revents_str(revents, rs, sizeof(rs));
			printf("{\"ev\":\"pollError\",\"tNs\":\"%llu\",\"revents\":\"%s\",\"state\":\"%s\"}\n",
			       (unsigned long long)now_ns(), rs, snd_pcm_state_name(st));
			err = st == SND_PCM_STATE_XRUN ? -EPIPE : st == SND_PCM_STATE_SUSPENDED ? -ESTRPIPE :
			      st == SND_PCM_STATE_DISCONNECTED ? -ENODEV : -EIO;
		} else {
			n = playback ? snd_pcm_writei(pcm, buf, period) : snd_pcm_readi(pcm, buf, period);
			if (n >= 0) {
				frames += (uint64_t)n;
				continue;
			}
			err = (int)n;
			if (err == -EAGAIN)
				continue;
		}
		st = snd_pcm_state(pcm);
		printf("{\"ev\":\"error\",\"tNs\":\"%llu\",\"err\":\"%s\",\"state\":\"%s\"}\n",
		       (unsigned long long)now_ns(), ename(-err), snd_pcm_state_name(st));
		if (err == -EPIPE) {
			xruns++;
			err = snd_pcm_prepare(pcm);
			if (err == 0 && !playback)
				err = snd_pcm_start(pcm);
			printf("{\"ev\":\"recovered\",\"tNs\":\"%llu\",\"err\":\"%s\"}\n",
			       (unsigned long long)now_ns(), err ? ename(-err) : "");
			if (err < 0)
				fatal = 1;
		} else if (err == -ESTRPIPE) {
			suspends++;
			while ((err = snd_pcm_resume(pcm)) == 0 &&
			       snd_pcm_state(pcm) == SND_PCM_STATE_SUSPENDED && now_ns() < end) {
				struct timespec ts = { 0, 5000000 };
				resume_tries++;
				nanosleep(&ts, NULL);
			}
			st = snd_pcm_state(pcm);
			if (st == SND_PCM_STATE_SUSPENDED || err < 0)
				err = snd_pcm_prepare(pcm);
			if (err == 0 && !playback && snd_pcm_state(pcm) == SND_PCM_STATE_PREPARED)
				err = snd_pcm_start(pcm);
			resumes++;
			printf("{\"ev\":\"resumed\",\"tNs\":\"%llu\",\"state\":\"%s\",\"tries\":%llu}\n",
			       (unsigned long long)now_ns(), snd_pcm_state_name(snd_pcm_state(pcm)),
			       (unsigned long long)resume_tries);
		} else {
			errors++;
			fatal = 1;
		}
	}
	st = snd_pcm_state(pcm);
	{
		snd_pcm_sframes_t d = 0;
		int derr = snd_pcm_delay(pcm, &d);
		printf("{\"ev\":\"summary\",\"ms\":%.3f,\"frames\":%llu,\"wakeups\":%llu,\"xruns\":%llu,"
		       "\"suspends\":%llu,\"resumes\":%llu,\"errors\":%llu,\"state\":\"%s\",\"maxGapMs\":%.3f,"
		       "\"delayErr\":\"%s\",\"delayMaxFrames\":%ld}\n",
		       (double)(now_ns() - t0) / 1e6, (unsigned long long)frames,
		       (unsigned long long)wakeups, (unsigned long long)xruns,
		       (unsigned long long)suspends, (unsigned long long)resumes,
		       (unsigned long long)errors, snd_pcm_state_name(st), (double)maxgap / 1e6,
		       derr < 0 ? ename(-derr) : "", (long)delay_max);
	}
	free(buf);
	snd_pcm_close(pcm);
	return fatal ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "leak"))
		return leak(argv[2], atoi(argv[3]));
	if (argc >= 5 && !strcmp(argv[1], "stream")) {
		snd_pcm_uframes_t period = argc > 5 ? (snd_pcm_uframes_t)atol(argv[5]) : 960;
		unsigned int periods = argc > 6 ? (unsigned int)atoi(argv[6]) : 4;
		return stream(argv[2], !strcmp(argv[3], "playback"), atol(argv[4]), period, periods);
	}
	fprintf(stderr, "usage: %s stream DEV capture|playback MS [PERIOD [PERIODS]] | leak DEV N\n", argv[0]);
	return 64;
}
