/*
 * pcm_healthtest.c - an alsa-lib external I/O plugin (ioplug) for alsa-health
 * tests on a machine without a sound card.
 *
 * It clocks a fake card in real time, for capture and playback: the hardware
 * pointer is computed from CLOCK_MONOTONIC since start and advances a period
 * at a time (a period interrupt); the poll descriptor is a timerfd that fires
 * at the period boundary where avail reaches avail_min.  A stream
 * that is not served in time gets a real xrun (capture: avail >= stop_threshold;
 * playback: the pointer catches up with the application), so SIGSTOP of a
 * client longer than its buffer gives "overrun!!!" in arecord.  Captured data
 * is silence; played data is counted and dropped.
 *
 * Build: test/alsa-plugin/build.sh -> build/libasound_module_pcm_healthtest.so
 *
 * ---------------------------------------------------------------------------
 * Configuration (the conf that test/alsa-plugin/plugin.ts generates):
 *
 *   pcm_type.healthtest { lib "/abs/path/libasound_module_pcm_healthtest.so" }
 *   pcm.healthtest {
 *     @args [ FAULTS ID TRACE MONOTONIC ]
 *     @args.FAULTS { type string default "" }
 *     @args.ID     { type string default "" }
 *     @args.TRACE  { type string default "" }
 *     @args.MONOTONIC { type integer default 0 }
 *     type healthtest
 *     faults $FAULTS        # fault script, below
 *     id $ID                # session id, below
 *     trace $TRACE          # file: one JSON line per event, appended
 *     state_dir "/abs/dir"  # where sessions live (default $HEALTHTEST_STATE_DIR
 *                           # or /tmp/alsa-healthtest-<uid>)
 *     monotonic $MONOTONIC  # 1/yes: timestamps (trigger, status) on
 *                           # CLOCK_MONOTONIC; default 0: gettimeofday, which
 *                           # alsa-utils assume for an ioplug PCM
 *     lock $LOCK            # file: exclusive device (below); default "": none
 *   }
 *
 * Device names:  healthtest
 *                healthtest:FAULTS="xrun@500;disconnect@2000+300",ID="t1"
 *                healthtest:FAULTS="...",ID="t1",TRACE="/tmp/t1.jsonl"
 * (keep the double quotes: the script contains ';' '@' '+' '*' '/' '=').
 * Unknown keys, a bad fault script or a bad id: SNDERR message, open -EINVAL.
 *
 * Exclusive mode (opt-in, lock "/abs/file"): a kernel hw substream has one
 * owner; a second open gets -EBUSY until the owner closes it or dies (the
 * kernel closes a dead process's files).  The plugin models that with
 * flock(LOCK_EX|LOCK_NB) on the file at open: held -> SNDERR naming the
 * holder's pid (written into the file) and open -EBUSY (traced as openFail,
 * "lock":true); released at close, and by the kernel when the process exits
 * however it exits (kill -9 included).  O_CLOEXEC, so a program the owner
 * runs does not keep the device busy.  Opens in one process conflict too,
 * as on a hw device.  The fault session is separate (ID).
 *
 * ---------------------------------------------------------------------------
 * Fault script: faults separated by ';' (spaces allowed around them):
 *
 *   KIND@AT[+DUR][*COUNT[/EVERY]][=VALUE]       all numbers integers, in ms
 *
 * AT is measured from the session's epoch: the first start of any stream of
 * the session.  *COUNT/EVERY repeats the fault COUNT times, EVERY ms apart.
 *
 *   xrun@T            the running stream xruns at T (state XRUN, -EPIPE).  An
 *                     occurrence due while no stream runs waits for the next
 *                     running stream, so every injected xrun is seen once.
 *   stall@T+D         late wake-up: no poll wake-up in [T, T+D); the clock
 *                     runs on, so a stall longer than the buffer = real xrun.
 *   suspend@T+D       streams become SUSPENDED at T (read/write -ESTRPIPE,
 *                     poll POLLERR).  snd_pcm_resume()/prepare() block until
 *                     T+D (non-blocking PCM: prepare -EAGAIN; resume returns 0
 *                     but the state stays SUSPENDED - alsa-lib's ioplug drops
 *                     the callback's -EAGAIN, so check snd_pcm_state()).
 *                     After resume the stream runs on from where it stopped.
 *   disconnect@T+D    every stream open at T is dead for good: state
 *                     DISCONNECTED, read/write/start/prepare -ENODEV, poll
 *                     POLLERR|POLLHUP.  Opens fail -ENODEV until T+D.
 *   openfail@T*N=E    after T, the next N opens fail with -E (default EBUSY).
 *                     T=0 also counts before the first start.
 *   ioerror@T=E       the next read/write after T fails once with -E (EIO).
 *   delay@T+D=X       snd_pcm_delay() reports X ms more in [T, T+D).
 *
 * Errno names for =E: EBUSY ENODEV ENOENT EIO EAGAIN EPERM EACCES ENXIO
 * ENOMEM EINVAL EPIPE ESTRPIPE.
 *
 * Session: the epoch and which faults already fired live in a small mmapped
 * file <state_dir>/<ID>.state, so a reopen (same or another process) sees the
 * same timeline: a disconnect window makes the reopen fail -ENODEV until it
 * ends, and a fired fault does not fire again.  Without ID the session is
 * private to the process and stream direction (auto-<pid>-<starttime>-<c|p>-
 * <hash>).  A state file whose script differs, or from a previous boot, is
 * reset.  Pick a fresh ID per test (plugin.ts does).
 *
 * Trace: JSON lines {"ev":...,"tNs":"<CLOCK_MONOTONIC ns>","pid":..,"id":..,
 * "stream":"capture"|"playback",...}; ev = open, openFail, hwParams, epoch,
 * start, stop, xrun (cause injected|overrun|underrun, tXrunNs = when the xrun
 * really began), suspend, resume, disconnect (tInjectNs), stall, ioError,
 * close (frames).  tNs is comparable with process.hrtime.bigint().
 *
 * Notes on alsa-lib's ioplug (1.2.8 .. 1.2.16):
 *  - the status trigger timestamp is set at start and drop, never at an xrun,
 *    so aplay's "overrun!!! (at least X ms long)" measures from the last start
 *    (kernel drivers: from the xrun).  The trace gives the real xrun time.
 *  - snd_pcm_resume() always returns 0 (see suspend above).
 *  - timestamps are gettimeofday unless "monotonic yes".
 */

#define _GNU_SOURCE
#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NSEC 1000000000ULL
#define MSEC 1000000ULL
#define HT_MAX_FAULTS 32
#define HT_MAX_MS 86400000ULL /* one day */
#define HT_MAGIC 0x48544c54u  /* "HTLT" */
#define HT_VERSION 1u

enum ht_kind { K_XRUN, K_STALL, K_SUSPEND, K_DISCONNECT, K_OPENFAIL, K_IOERROR, K_DELAY };

static const struct {
	const char *name;
	int window; /* has +DUR */
	int value;  /* 0: no =VALUE, 1: errno, 2: number (ms) */
} kinds[] = {
	[K_XRUN] = { "xrun", 0, 0 },
	[K_STALL] = { "stall", 1, 0 },
	[K_SUSPEND] = { "suspend", 1, 0 },
	[K_DISCONNECT] = { "disconnect", 1, 0 },
	[K_OPENFAIL] = { "openfail", 0, 1 },
	[K_IOERROR] = { "ioerror", 0, 1 },
	[K_DELAY] = { "delay", 1, 2 },
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static const struct { const char *name; int err; } errnos[] = {
	{ "EBUSY", EBUSY }, { "ENODEV", ENODEV }, { "ENOENT", ENOENT },
	{ "EIO", EIO }, { "EAGAIN", EAGAIN }, { "EPERM", EPERM },
	{ "EACCES", EACCES }, { "ENXIO", ENXIO }, { "ENOMEM", ENOMEM },
	{ "EINVAL", EINVAL }, { "EPIPE", EPIPE }, { "ESTRPIPE", ESTRPIPE },
};

static const char *errno_name(int e)
{
	unsigned int i;
	for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].err == e)
			return errnos[i].name;
	return "E?";
}

struct ht_fault {
	int kind;
	uint64_t at_ms, dur_ms, every_ms, value;
	uint32_t count;
};

/* shared, mmapped session state */
struct ht_fstate {
	uint32_t occ;      /* occurrences fired (windows: started) */
	uint32_t pad;
	uint64_t win_start; /* latest window, CLOCK_MONOTONIC ns; 0 = none */
	uint64_t win_end;
};

struct ht_session {
	uint32_t magic, version;
	uint64_t hash;
	uint64_t epoch_ns;   /* first start; 0 = not yet */
	uint64_t created_ns;
	uint32_t nfaults, pad;
	struct ht_fstate f[HT_MAX_FAULTS];
};

struct ht {
	snd_pcm_ioplug_t io;
	char id[128];
	struct ht_fault faults[HT_MAX_FAULTS];
	unsigned int nfaults;
	int tfd, sess_fd, trace_fd, lock_fd;
	struct ht_session *sess;
	uint64_t open_ns;
	/* clock: hw = base + elapsed since seg_start while running, else frozen */
	int running;
	uint64_t seg_start, base, frozen;
	snd_pcm_uframes_t boundary, avail_min, stop_threshold;
	uint64_t period_ns;
	int disconnected, suspended, suspend_fault;
	snd_pcm_state_t pre_suspend;
	uint64_t seen_win[HT_MAX_FAULTS]; /* win_start already applied */
	int armed;          /* 0 off, 1 at armed_ns, 2 immediate */
	uint64_t armed_ns;
	uint64_t frames;    /* transferred */
	snd_pcm_uframes_t appl_adj; /* frames ioplug adds to appl_ptr after transfer */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static const char *stream_name(const struct ht *h)
{
	return h->io.stream == SND_PCM_STREAM_PLAYBACK ? "playback" : "capture";
}

/* ---------------------------------------------------------------- trace */

static void trace(struct ht *h, uint64_t t, const char *ev, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void trace(struct ht *h, uint64_t t, const char *ev, const char *fmt, ...)
{
	char buf[512];
	int n, m;
	va_list ap;

	if (h->trace_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf),
		     "{\"ev\":\"%s\",\"tNs\":\"%llu\",\"pid\":%d,\"id\":\"%s\",\"stream\":\"%s\"",
		     ev, (unsigned long long)t, (int)getpid(), h->id, stream_name(h));
	if (n < 0 || n >= (int)sizeof(buf) - 3)
		return;
	if (fmt && *fmt) {
		buf[n++] = ',';
		va_start(ap, fmt);
		m = vsnprintf(buf + n, sizeof(buf) - n - 2, fmt, ap);
		va_end(ap);
		if (m < 0 || m >= (int)(sizeof(buf) - n - 2))
			return;
		n += m;
	}
	buf[n++] = '}';
	buf[n++] = '\n';
	if (write(h->trace_fd, buf, n) < 0) {
		/* a trace is best effort */
	}
}

/* ---------------------------------------------------------------- parsing */

static int parse_num(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > HT_MAX_MS)
			return -1;
		s++;
	}
	*p = s;
	*out = v;
	return 0;
}

static int parse_fault(const char *tok, struct ht_fault *f)
{
	const char *p = tok, *at;
	size_t len;
	unsigned int k;
	uint64_t v;
	int has_dur = 0, has_count = 0, has_every = 0, has_value = 0;
	const char *why;

	memset(f, 0, sizeof(*f));
	f->count = 1;
	at = strchr(p, '@');
	if (!at) {
		why = "expected KIND@AT";
		goto bad;
	}
	len = (size_t)(at - p);
	for (k = 0; k < N_KINDS; k++)
		if (strlen(kinds[k].name) == len && strncasecmp(p, kinds[k].name, len) == 0)
			break;
	if (k == N_KINDS) {
		why = "unknown kind (xrun stall suspend disconnect openfail ioerror delay)";
		goto bad;
	}
	f->kind = (int)k;
	p = at + 1;
	if (parse_num(&p, &f->at_ms) < 0) {
		why = "AT must be an integer number of ms";
		goto bad;
	}
	if (*p == '+') {
		p++;
		if (parse_num(&p, &f->dur_ms) < 0) {
			why = "+DUR must be an integer number of ms";
			goto bad;
		}
		has_dur = 1;
	}
	if (*p == '*') {
		p++;
		if (parse_num(&p, &v) < 0 || v < 1 || v > 100000) {
			why = "*COUNT must be an integer 1..100000";
			goto bad;
		}
		f->count = (uint32_t)v;
		has_count = 1;
		if (*p == '/') {
			p++;
			if (parse_num(&p, &f->every_ms) < 0) {
				why = "/EVERY must be an integer number of ms";
				goto bad;
			}
			has_every = 1;
		}
	}
	if (*p == '=') {
		p++;
		has_value = 1;
		if (kinds[k].value == 1) {
			unsigned int i;
			for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
				if (strcasecmp(p, errnos[i].name) == 0)
					break;
			if (i == sizeof(errnos) / sizeof(errnos[0])) {
				why = "unknown errno name";
				goto bad;
			}
			f->value = (uint64_t)errnos[i].err;
			p += strlen(p);
		} else if (kinds[k].value == 2) {
			if (parse_num(&p, &f->value) < 0) {
				why = "=VALUE must be an integer number of ms";
				goto bad;
			}
		} else {
			why = "this kind takes no =VALUE";
			goto bad;
		}
	}
	if (*p) {
		why = "trailing characters";
		goto bad;
	}
	if (kinds[k].window && !has_dur) {
		why = "this kind needs +DUR";
		goto bad;
	}
	if (!kinds[k].window && has_dur) {
		why = "this kind takes no +DUR";
		goto bad;
	}
	if ((f->kind == K_STALL || f->kind == K_SUSPEND) && f->dur_ms == 0) {
		why = "+DUR must be > 0";
		goto bad;
	}
	if (f->kind == K_DELAY && !has_value) {
		why = "delay needs =EXTRA_MS";
		goto bad;
	}
	if (kinds[k].value == 1 && !has_value)
		f->value = f->kind == K_OPENFAIL ? EBUSY : EIO;
	if (has_every && !has_count) {
		why = "/EVERY needs *COUNT";
		goto bad;
	}
	if (f->kind == K_OPENFAIL && has_every) {
		why = "openfail takes *COUNT (the next COUNT opens), not /EVERY";
		goto bad;
	}
	if (kinds[k].window && f->count > 1 && f->every_ms < f->dur_ms) {
		why = "windows must not overlap: /EVERY >= +DUR";
		goto bad;
	}
	return 0;
bad:
	SNDERR("healthtest: bad fault \"%s\": %s", tok, why);
	return -EINVAL;
}

static int parse_faults(struct ht *h, const char *script)
{
	char *copy, *tok, *save = NULL;
	int err = 0;

	h->nfaults = 0;
	if (!script || !*script)
		return 0;
	copy = strdup(script);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *e;
		while (isspace((unsigned char)*tok))
			tok++;
		e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = 0;
		if (!*tok)
			continue;
		if (h->nfaults >= HT_MAX_FAULTS) {
			SNDERR("healthtest: more than %d faults", HT_MAX_FAULTS);
			err = -EINVAL;
			break;
		}
		err = parse_fault(tok, &h->faults[h->nfaults]);
		if (err < 0)
			break;
		h->nfaults++;
	}
	free(copy);
	return err;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t x = 1469598103934665603ULL;
	while (*s) {
		x ^= (unsigned char)*s++;
		x *= 1099511628211ULL;
	}
	return x;
}

/* ---------------------------------------------------------------- session */

/* no faults, nothing shared to protect: no syscalls on the streaming path */
static void sess_lock(struct ht *h)
{
	if (!h->nfaults)
		return;
	while (flock(h->sess_fd, LOCK_EX) < 0 && errno == EINTR)
		;
}

static void sess_unlock(struct ht *h)
{
	if (!h->nfaults)
		return;
	flock(h->sess_fd, LOCK_UN);
}

static unsigned long long proc_starttime(void)
{
	char buf[1024];
	unsigned long long st = 0;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	char *p;
	int field;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p)
		return 0;
	/* field 3 follows ") "; starttime is field 22 */
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		st = strtoull(p + 1, NULL, 10);
	return st;
}

static int session_open(struct ht *h, const char *state_dir, const char *script)
{
	char path[PATH_MAX];
	struct stat sb;
	uint64_t hash = fnv1a(script ? script : "");
	uint64_t now = now_ns();
	struct ht_session *s;
	int n, fd;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		int e = errno;
		SNDERR("healthtest: cannot create state_dir %s: %s", state_dir, strerror(e));
		return -e;
	}
	n = snprintf(path, sizeof(path), "%s/%s.state", state_dir, h->id);
	if (n < 0 || n >= (int)sizeof(path)) {
		SNDERR("healthtest: state path too long");
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		SNDERR("healthtest: cannot open %s: %s", path, strerror(e));
		return -e;
	}
	h->sess_fd = fd;
	while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	if (fstat(fd, &sb) < 0 || (sb.st_size != (off_t)sizeof(*s) &&
				    ftruncate(fd, sizeof(*s)) < 0)) {
		int e = errno;
		flock(fd, LOCK_UN);
		SNDERR("healthtest: cannot size %s: %s", path, strerror(e));
		return -e;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED) {
		int e = errno;
		flock(fd, LOCK_UN);
		SNDERR("healthtest: cannot map %s: %s", path, strerror(e));
		return -e;
	}
	h->sess = s;
	if (s->magic != HT_MAGIC || s->version != HT_VERSION || s->hash != hash ||
	    s->nfaults != h->nfaults || s->epoch_ns > now || s->created_ns > now) {
		memset(s, 0, sizeof(*s));
		s->magic = HT_MAGIC;
		s->version = HT_VERSION;
		s->hash = hash;
		s->nfaults = h->nfaults;
		s->created_ns = now;
	}
	flock(fd, LOCK_UN);
	return 0;
}

/* time at which occurrence `occ` of fault i is due; 0 = not schedulable yet */
static uint64_t due_ns(const struct ht *h, unsigned int i, uint32_t occ)
{
	const struct ht_fault *f = &h->faults[i];
	uint64_t rel = (f->at_ms + (uint64_t)occ * f->every_ms) * MSEC;

	if (!h->sess->epoch_ns)
		return 0;
	return h->sess->epoch_ns + rel;
}

/* start the windows (stall/suspend/disconnect/delay) that are due; locked */
static void session_tick(struct ht *h, uint64_t now)
{
	unsigned int i;
	struct ht_session *s = h->sess;

	for (i = 0; i < h->nfaults; i++) {
		const struct ht_fault *f = &h->faults[i];
		if (!kinds[f->kind].window)
			continue;
		while (s->f[i].occ < f->count) {
			uint64_t t = due_ns(h, i, s->f[i].occ);
			if (!t) {
				/* before the first start only AT=0 windows begin (at open) */
				if (f->at_ms != 0 || s->f[i].occ != 0)
					break;
				t = now;
			}
			if (t > now)
				break;
			s->f[i].win_start = t;
			s->f[i].win_end = t + f->dur_ms * MSEC;
			s->f[i].occ++;
		}
	}
}

/* ---------------------------------------------------------------- clock */

/*
 * The hardware pointer advances one period at a time, like a period
 * interrupt: ioplug's read/write loops only sleep in poll() when avail is 0,
 * so a frame-exact pointer would make a blocking client spin reading a few
 * frames at a time.
 */
static uint64_t hw_total(const struct ht *h, uint64_t now)
{
	uint64_t d, raw, q, r = h->io.rate, p = h->io.period_size ? h->io.period_size : 1;

	if (!h->running || now < h->seg_start)
		return h->running ? h->base : h->frozen;
	d = now - h->seg_start;
	raw = h->base + (d / NSEC) * r + ((d % NSEC) * r) / NSEC;
	q = raw - raw % p;
	return q > h->base ? q : h->base;
}

/* first time at which hw_total >= frame (running clock only) */
static uint64_t frame_time(const struct ht *h, uint64_t frame)
{
	uint64_t df, r = h->io.rate, p = h->io.period_size ? h->io.period_size : 1;

	frame = (frame + p - 1) / p * p;
	if (frame <= h->base)
		return h->seg_start;
	df = frame - h->base;
	return h->seg_start + (df / r) * NSEC + ((df % r) * NSEC + r - 1) / r;
}

static void freeze(struct ht *h, uint64_t frame)
{
	h->frozen = frame;
	h->running = 0;
}

static void run_from(struct ht *h, uint64_t now, uint64_t frame)
{
	h->base = frame;
	h->seg_start = now;
	h->running = 1;
}

/* appl_ptr - hw, both absolute, from the boundary-wrapped appl_ptr */
static int64_t appl_minus_hw(const struct ht *h, uint64_t hw)
{
	uint64_t b = h->boundary ? h->boundary : (uint64_t)LONG_MAX;
	uint64_t a = ((uint64_t)h->io.appl_ptr + h->appl_adj) % b;
	uint64_t d = (a + b - hw % b) % b;

	return d > b / 2 ? (int64_t)d - (int64_t)b : (int64_t)d;
}

static int64_t avail_at(const struct ht *h, uint64_t hw)
{
	int64_t d = appl_minus_hw(h, hw);

	if (h->io.stream == SND_PCM_STREAM_PLAYBACK)
		return (int64_t)h->io.buffer_size - d;
	return -d;
}

static uint64_t round_up(uint64_t v, uint64_t m)
{
	return m ? (v + m - 1) / m * m : v;
}

/* end of a stall window covering t (active or scheduled), else t */
static uint64_t after_stalls(const struct ht *h, uint64_t t)
{
	unsigned int i, loops;

	for (loops = 0; loops < 4; loops++) {
		uint64_t moved = t;
		for (i = 0; i < h->nfaults; i++) {
			const struct ht_fault *f = &h->faults[i];
			const struct ht_fstate *fs = &h->sess->f[i];
			if (f->kind != K_STALL)
				continue;
			if (fs->win_start && t >= fs->win_start && t < fs->win_end)
				moved = fs->win_end;
			if (fs->occ < f->count) {
				uint64_t s = due_ns(h, i, fs->occ);
				if (s && t >= s && t < s + f->dur_ms * MSEC)
					moved = s + f->dur_ms * MSEC;
			}
		}
		if (moved == t)
			break;
		t = moved;
	}
	return t;
}

/* ---------------------------------------------------------------- poll mask */

static unsigned short ok_mask(const struct ht *h)
{
	return h->io.stream == SND_PCM_STREAM_PLAYBACK ? POLLOUT : POLLIN;
}

static unsigned short mask_at(const struct ht *h, uint64_t now, snd_pcm_state_t st)
{
	uint64_t hw;

	if (h->disconnected)
		return POLLERR | POLLHUP;
	switch (st) {
	case SND_PCM_STATE_RUNNING:
	case SND_PCM_STATE_PREPARED:
	case SND_PCM_STATE_PAUSED:
		if (after_stalls(h, now) != now)
			return 0;
		hw = hw_total(h, now);
		return avail_at(h, hw) >= (int64_t)(h->avail_min ? h->avail_min : 1) ?
			ok_mask(h) : 0;
	case SND_PCM_STATE_DRAINING:
		if (h->io.stream == SND_PCM_STREAM_CAPTURE)
			return POLLIN;
		hw = hw_total(h, now);
		return appl_minus_hw(h, hw) <= 0 ? POLLOUT : 0;
	default: /* OPEN, SETUP, XRUN, SUSPENDED, DISCONNECTED */
		return ok_mask(h) | POLLERR;
	}
}

static void arm(struct ht *h, uint64_t now, snd_pcm_state_t st, int force)
{
	struct itimerspec its;
	int want = 0, flags = 0;
	uint64_t t = UINT64_MAX;
	unsigned int i;

	if (h->tfd < 0)
		return;
	if (mask_at(h, now, st)) {
		want = 2;
	} else {
		if (h->running && (st == SND_PCM_STATE_RUNNING || st == SND_PCM_STATE_DRAINING ||
				   st == SND_PCM_STATE_PREPARED)) {
			uint64_t hw = hw_total(h, now);
			int64_t av = avail_at(h, hw);
			uint64_t f;
			uint64_t am = h->avail_min ? h->avail_min : 1;

			if (st == SND_PCM_STATE_DRAINING) {
				f = hw + (uint64_t)(appl_minus_hw(h, hw) > 0 ? appl_minus_hw(h, hw) : 0);
			} else {
				/* the period boundary where avail reaches avail_min */
				f = round_up(hw + (uint64_t)((int64_t)am - av), h->io.period_size);
				/* ... or where the stream xruns */
				if (h->stop_threshold < h->boundary) {
					uint64_t fx = round_up(hw + (uint64_t)((int64_t)h->stop_threshold - av),
							       h->io.period_size);
					if (fx < f)
						f = fx;
				}
			}
			t = frame_time(h, f);
			if (t < now)
				t = now; /* ready now, but held back by a stall */
		}
		/* fault transitions */
		for (i = 0; i < h->nfaults; i++) {
			const struct ht_fault *fl = &h->faults[i];
			const struct ht_fstate *fs = &h->sess->f[i];
			uint64_t d;
			if (fl->kind == K_OPENFAIL || fl->kind == K_IOERROR || fl->kind == K_DELAY)
				continue;
			if (fs->occ < fl->count) {
				d = due_ns(h, i, fs->occ);
				if (d > now && d < t)
					t = d;
			}
			if (kinds[fl->kind].window && fs->win_end > now && fs->win_end < t)
				t = fs->win_end;
		}
		if (t != UINT64_MAX) {
			t = after_stalls(h, t);
			if (t <= now)
				t = now + MSEC; /* never spin */
			want = 1;
		}
	}
	if (!force && want == h->armed && (want != 1 || t == h->armed_ns))
		return;
	memset(&its, 0, sizeof(its));
	if (want == 2) {
		its.it_value.tv_nsec = 1;
	} else if (want == 1) {
		its.it_value.tv_sec = (time_t)(t / NSEC);
		its.it_value.tv_nsec = (long)(t % NSEC);
		flags = TFD_TIMER_ABSTIME;
	}
	if (timerfd_settime(h->tfd, flags, &its, NULL) == 0) {
		h->armed = want;
		h->armed_ns = t;
	} else {
		h->armed = -1;
	}
}

/* ---------------------------------------------------------------- faults */

static void set_state(struct ht *h, snd_pcm_state_t st)
{
	snd_pcm_ioplug_set_state(&h->io, st);
}

/*
 * Apply what is due at `now` to this stream; `st` is its state as the caller
 * knows it (ioplug updates io.state only after some callbacks return).
 * Returns the possibly changed state.
 */
static snd_pcm_state_t service(struct ht *h, uint64_t now, snd_pcm_state_t st)
{
	unsigned int i;
	int streaming;

	sess_lock(h);
	session_tick(h, now);
	for (i = 0; i < h->nfaults; i++) {
		const struct ht_fault *f = &h->faults[i];
		struct ht_fstate *fs = &h->sess->f[i];

		if (!fs->win_start || h->seen_win[i] == fs->win_start)
			continue;
		if (now < fs->win_start)
			continue;
		if (f->kind == K_DISCONNECT && h->open_ns < fs->win_end && !h->disconnected) {
			h->seen_win[i] = fs->win_start;
			freeze(h, hw_total(h, now));
			h->disconnected = 1;
			trace(h, now, "disconnect", "\"tInjectNs\":\"%llu\",\"untilNs\":\"%llu\"",
			      (unsigned long long)fs->win_start, (unsigned long long)fs->win_end);
		} else if (f->kind == K_SUSPEND && h->open_ns <= fs->win_start && !h->disconnected) {
			h->seen_win[i] = fs->win_start;
			if (!h->suspended && (st == SND_PCM_STATE_RUNNING || st == SND_PCM_STATE_PREPARED ||
					      st == SND_PCM_STATE_PAUSED || st == SND_PCM_STATE_DRAINING)) {
				freeze(h, hw_total(h, now));
				h->suspended = 1;
				h->suspend_fault = (int)i;
				h->pre_suspend = st == SND_PCM_STATE_DRAINING ? SND_PCM_STATE_RUNNING : st;
				st = SND_PCM_STATE_SUSPENDED;
				set_state(h, st);
				trace(h, now, "suspend", "\"tInjectNs\":\"%llu\",\"untilNs\":\"%llu\"",
				      (unsigned long long)fs->win_start, (unsigned long long)fs->win_end);
			}
		} else if (f->kind == K_STALL && h->open_ns <= fs->win_start) {
			h->seen_win[i] = fs->win_start;
			trace(h, now, "stall", "\"tInjectNs\":\"%llu\",\"untilNs\":\"%llu\"",
			      (unsigned long long)fs->win_start, (unsigned long long)fs->win_end);
		} else if (f->kind == K_DELAY) {
			h->seen_win[i] = fs->win_start;
		}
	}
	if (h->disconnected && st != SND_PCM_STATE_DISCONNECTED) {
		st = SND_PCM_STATE_DISCONNECTED;
		set_state(h, st);
	}
	streaming = h->running && st == SND_PCM_STATE_RUNNING;
	/* injected xruns: one per call, only while a stream runs */
	if (streaming) {
		for (i = 0; i < h->nfaults; i++) {
			struct ht_fstate *fs = &h->sess->f[i];
			uint64_t t;
			if (h->faults[i].kind != K_XRUN || fs->occ >= h->faults[i].count)
				continue;
			t = due_ns(h, i, fs->occ);
			if (!t || t > now)
				continue;
			fs->occ++;
			freeze(h, hw_total(h, now));
			st = SND_PCM_STATE_XRUN;
			set_state(h, st);
			trace(h, now, "xrun", "\"cause\":\"injected\",\"tXrunNs\":\"%llu\",\"tInjectNs\":\"%llu\",\"n\":%u",
			      (unsigned long long)t, (unsigned long long)t, fs->occ);
			streaming = 0;
			break;
		}
	}
	sess_unlock(h);

	/* real xrun: the stream was not served in time */
	if (streaming && h->stop_threshold < h->boundary) {
		uint64_t hw = hw_total(h, now);
		int64_t av = avail_at(h, hw);
		if (av >= (int64_t)h->stop_threshold) {
			uint64_t fx = hw - (uint64_t)(av - (int64_t)h->stop_threshold);
			freeze(h, fx);
			st = SND_PCM_STATE_XRUN;
			set_state(h, st);
			trace(h, now, "xrun", "\"cause\":\"%s\",\"tXrunNs\":\"%llu\"",
			      h->io.stream == SND_PCM_STREAM_PLAYBACK ? "underrun" : "overrun",
			      (unsigned long long)frame_time(h, fx));
		}
	} else if (h->running && st == SND_PCM_STATE_DRAINING &&
		   h->io.stream == SND_PCM_STREAM_PLAYBACK) {
		uint64_t hw = hw_total(h, now);
		int64_t d = appl_minus_hw(h, hw);
		if (d <= 0)
			freeze(h, hw + (uint64_t)d); /* drained: stop at appl_ptr */
	}
	return st;
}

/* wait (blocking PCM) for the suspend window of this stream to end */
static int wait_suspend_end(struct ht *h)
{
	uint64_t end = h->sess->f[h->suspend_fault].win_end;
	struct timespec ts;

	if (now_ns() >= end)
		return 0;
	if (h->io.nonblock)
		return -EAGAIN;
	ts.tv_sec = (time_t)(end / NSEC);
	ts.tv_nsec = (long)(end % NSEC);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	return 0;
}

/* ---------------------------------------------------------------- callbacks */

static int ht_start(snd_pcm_ioplug_t *io)
{
	struct ht *h = io->private_data;
	uint64_t now = now_ns();
	snd_pcm_state_t st = service(h, now, io->state);

	if (h->disconnected)
		return -ENODEV;
	if (st == SND_PCM_STATE_SUSPENDED)
		return -ESTRPIPE;
	sess_lock(h);
	if (!h->sess->epoch_ns) {
		h->sess->epoch_ns = now;
		trace(h, now, "epoch", NULL);
	}
	sess_unlock(h);
	run_from(h, now, 0);
	trace(h, now, "start", NULL);
	st = service(h, now, SND_PCM_STATE_RUNNING);
	arm(h, now, st, 1);
	return 0;
}

static int ht_stop(snd_pcm_ioplug_t *io)
{
	struct ht *h = io->private_data;
	uint64_t now = now_ns();

	if (h->running)
		freeze(h, hw_total(h, now));
	trace(h, now, "stop", "\"frames\":%llu", (unsigned long long)h->frames);
	arm(h, now, SND_PCM_STATE_SETUP, 1);
	return 0;
}

static snd_pcm_sframes_t ht_pointer(snd_pcm_ioplug_t *io)
{
	struct ht *h = io->private_data;
	uint64_t now = now_ns();
	snd_pcm_state_t st = service(h, now, io->state);
	uint64_t b = h->boundary ? h->boundary : (uint64_t)LONG_MAX;

	arm(h, now, st, 0);
	if (st == SND_PCM_STATE_XRUN)
		return -EPIPE;
	return (snd_pcm_sframes_t)(hw_total(h, now) % b);
}

static snd_pcm_sframes_t ht_transfer(snd_pcm_ioplug_t *io, const snd_pcm_channel_area_t *areas,
				     snd_pcm_uframes_t offset, snd_pcm_uframes_t size)
{
	struct ht *h = io->private_data;
	uint64_t now = now_ns();
	snd_pcm_state_t st = service(h, now, io->state);
	unsigned int i;

	if (h->disconnected)
		return -ENODEV;
	if (st == SND_PCM_STATE_SUSPENDED)
		return -ESTRPIPE;
	if (st == SND_PCM_STATE_XRUN)
		return -EPIPE;
	if (h->sess->epoch_ns) {
		sess_lock(h);
		for (i = 0; i < h->nfaults; i++) {
			struct ht_fstate *fs = &h->sess->f[i];
			uint64_t t;
			if (h->faults[i].kind != K_IOERROR || fs->occ >= h->faults[i].count)
				continue;
			t = due_ns(h, i, fs->occ);
			if (!t || t > now)
				continue;
			fs->occ++;
			sess_unlock(h);
			trace(h, now, "ioError", "\"errno\":\"%s\",\"tInjectNs\":\"%llu\"",
			      errno_name((int)h->faults[i].value), (unsigned long long)t);
			return -(snd_pcm_sframes_t)h->faults[i].value;
		}
		sess_unlock(h);
	}
	if (io->stream == SND_PCM_STREAM_CAPTURE)
		snd_pcm_areas_silence(areas, offset, io->channels, size, io->format);
	h->frames += size;
	h->appl_adj = size; /* arm for the appl_ptr ioplug is about to set */
	arm(h, now, st, 0);
	h->appl_adj = 0;
	return (snd_pcm_sframes_t)size;
}

static int ht_prepare(snd_pcm_ioplug_t *io)
{
	struct ht *h = io->private_data;
	uint64_t now = now_ns();
	snd_pcm_state_t st;

	/* ioplug has already reset appl_ptr: stop the clock before service(),
	 * or it sees the old hardware position against appl 0 and traces an
	 * xrun that no stream ever had. */
	h->running = 0;
	st = service(h, now, io->state);
	if (h->disconnected)
		return -ENODEV;
	if (h->suspended) {
		int err = wait_suspend_end(h);
		if (err < 0)
			return err;
		h->suspended = 0;
		now = now_ns();
		trace(h, now, "resume", "\"by\":\"prepare\"");
	}
	(void)st;
	h->running = 0;
	h->frozen = 0;
	h->base = 0;
	arm(h, now, SND_PCM_STATE_PREPARED, 1);
	return 0;
}

static int ht_resume(snd_pcm_ioplug_t *io)
{
	struct ht *h = io->private_data;
	uint64_t now;
	int err;

	if (!h->suspended || h->disconnected)
		return 0;
	err = wait_suspend_end(h);
	if (err < 0)
		return err; /* alsa-lib ignores it: the state stays SUSPENDED */
	now = now_ns();
	h->suspended = 0;
	if (h->pre_suspend == SND_PCM_STATE_RUNNING)
		run_from(h, now, h->frozen);
	set_state(h, h->pre_suspend);
	trace(h, now, "resume", "\"by\":\"resume\"");
	arm(h, now, h->pre_suspend, 1);
	return 0;
}

static int ht_pause(snd_pcm_ioplug_t *io, int enable)
{
	struct ht *h = io->private_data;
	uint64_t now = now_ns();

	if (enable) {
		if (h->running)
			freeze(h, hw_total(h, now));
		arm(h, now, SND_PCM_STATE_PAUSED, 1);
	} else {
		if (!h->running)
			run_from(h, now, h->frozen);
		arm(h, now, SND_PCM_STATE_RUNNING, 1);
	}
	return 0;
}

static int ht_drain(snd_pcm_ioplug_t *io)
{
	struct ht *h = io->private_data;

	if (io->stream == SND_PCM_STREAM_CAPTURE)
		return 0; /* ioplug drops the stream */
	if (!h->running && !h->suspended && !h->disconnected) {
		/* drain of a prepared stream starts it */
		uint64_t now = now_ns();
		sess_lock(h);
		if (!h->sess->epoch_ns) {
			h->sess->epoch_ns = now;
			trace(h, now, "epoch", NULL);
		}
		sess_unlock(h);
		run_from(h, now, 0);
		trace(h, now, "start", "\"by\":\"drain\"");
	}
	for (;;) {
		uint64_t now = now_ns(), hw, until;
		snd_pcm_state_t st = service(h, now, SND_PCM_STATE_DRAINING);
		int64_t left;
		struct timespec ts;

		if (h->disconnected)
			return -ENODEV;
		if (st == SND_PCM_STATE_SUSPENDED)
			return -ESTRPIPE;
		if (!h->running)
			return 0; /* drained (frozen at appl_ptr) */
		hw = hw_total(h, now);
		left = appl_minus_hw(h, hw);
		if (left <= 0)
			return 0;
		if (io->nonblock) {
			arm(h, now, SND_PCM_STATE_DRAINING, 1);
			return -EAGAIN;
		}
		until = frame_time(h, hw + (uint64_t)left);
		if (until > now + h->period_ns)
			until = now + h->period_ns; /* look at faults once a period */
		ts.tv_sec = (time_t)(until / NSEC);
		ts.tv_nsec = (long)(until % NSEC);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
}

static int ht_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd, unsigned int nfds,
			   unsigned short *revents)
{
	struct ht *h = io->private_data;
	uint64_t now = now_ns();
	snd_pcm_state_t st;

	if (!revents)
		return -EINVAL;
	if (nfds != 1 || !pfd || pfd[0].fd != h->tfd) {
		*revents = 0;
		return -EINVAL;
	}
	st = service(h, now, io->state);
	*revents = mask_at(h, now, st);
	arm(h, now, st, 1);
	return 0;
}

static int ht_delay(snd_pcm_ioplug_t *io, snd_pcm_sframes_t *delayp)
{
	struct ht *h = io->private_data;
	uint64_t now = now_ns(), hw;
	snd_pcm_state_t st = service(h, now, io->state);
	int64_t d;
	unsigned int i;

	if (h->disconnected)
		return -ENODEV;
	if (st == SND_PCM_STATE_SUSPENDED)
		return -ESTRPIPE;
	if (st == SND_PCM_STATE_XRUN)
		return -EPIPE;
	hw = hw_total(h, now);
	d = appl_minus_hw(h, hw);
	if (io->stream == SND_PCM_STREAM_CAPTURE)
		d = -d;
	if (d < 0)
		d = 0;
	for (i = 0; i < h->nfaults; i++) {
		const struct ht_fstate *fs = &h->sess->f[i];
		if (h->faults[i].kind == K_DELAY && fs->win_start && now >= fs->win_start &&
		    now < fs->win_end)
			d += (int64_t)(h->faults[i].value * io->rate / 1000);
	}
	*delayp = (snd_pcm_sframes_t)d;
	return 0;
}

static int ht_hw_params(snd_pcm_ioplug_t *io, snd_pcm_hw_params_t *params)
{
	struct ht *h = io->private_data;
	uint64_t b;

	(void)params;
	if (h->disconnected)
		return -ENODEV;
	if (!io->rate || !io->period_size || !io->buffer_size)
		return -EINVAL;
	/* alsa-lib's own boundary, until sw_params tells us */
	b = io->buffer_size;
	while (b * 2 <= (uint64_t)LONG_MAX - io->buffer_size)
		b *= 2;
	h->boundary = (snd_pcm_uframes_t)b;
	h->avail_min = io->period_size;
	h->stop_threshold = io->buffer_size;
	h->period_ns = ((uint64_t)io->period_size * NSEC + io->rate - 1) / io->rate;
	trace(h, now_ns(), "hwParams",
	      "\"rate\":%u,\"channels\":%u,\"format\":\"%s\",\"access\":\"%s\",\"periodFrames\":%lu,\"bufferFrames\":%lu",
	      io->rate, io->channels, snd_pcm_format_name(io->format),
	      snd_pcm_access_name(io->access), (unsigned long)io->period_size,
	      (unsigned long)io->buffer_size);
	return 0;
}

static int ht_sw_params(snd_pcm_ioplug_t *io, snd_pcm_sw_params_t *params)
{
	struct ht *h = io->private_data;
	snd_pcm_uframes_t v;

	if (snd_pcm_sw_params_get_boundary(params, &v) == 0 && v)
		h->boundary = v;
	if (snd_pcm_sw_params_get_avail_min(params, &v) == 0)
		h->avail_min = v ? v : 1;
	if (snd_pcm_sw_params_get_stop_threshold(params, &v) == 0)
		h->stop_threshold = v;
	return 0;
}

static int ht_close(snd_pcm_ioplug_t *io)
{
	struct ht *h = io->private_data;

	if (!h)
		return 0;
	trace(h, now_ns(), "close", "\"frames\":%llu", (unsigned long long)h->frames);
	if (h->tfd >= 0)
		close(h->tfd);
	if (h->sess)
		munmap(h->sess, sizeof(*h->sess));
	if (h->sess_fd >= 0)
		close(h->sess_fd);
	if (h->trace_fd >= 0)
		close(h->trace_fd);
	if (h->lock_fd >= 0)
		close(h->lock_fd); /* releases the flock: the device is free */
	io->private_data = NULL;
	free(h);
	return 0;
}

static void ht_dump(snd_pcm_ioplug_t *io, snd_output_t *out)
{
	struct ht *h = io->private_data;

	snd_output_printf(out, "alsa-health test PCM (healthtest), session %s, %u faults\n",
			  h->id, h->nfaults);
	snd_output_printf(out, "Its setup is:\n");
	snd_pcm_dump_setup(io->pcm, out);
}

static const snd_pcm_ioplug_callback_t ht_callback = {
	.start = ht_start,
	.stop = ht_stop,
	.pointer = ht_pointer,
	.transfer = ht_transfer,
	.close = ht_close,
	.hw_params = ht_hw_params,
	.sw_params = ht_sw_params,
	.prepare = ht_prepare,
	.drain = ht_drain,
	.pause = ht_pause,
	.resume = ht_resume,
	.poll_revents = ht_poll_revents,
	.dump = ht_dump,
	.delay = ht_delay,
};

/* ---------------------------------------------------------------- open */

static int valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 100 || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return 0;
	return 1;
}

static int set_constraints(struct ht *h)
{
	static const unsigned int access[] = {
		SND_PCM_ACCESS_RW_INTERLEAVED, SND_PCM_ACCESS_RW_NONINTERLEAVED,
		SND_PCM_ACCESS_MMAP_INTERLEAVED, SND_PCM_ACCESS_MMAP_NONINTERLEAVED,
	};
	static const unsigned int formats[] = {
		SND_PCM_FORMAT_U8, SND_PCM_FORMAT_S16_LE, SND_PCM_FORMAT_S24_LE,
		SND_PCM_FORMAT_S24_3LE, SND_PCM_FORMAT_S32_LE, SND_PCM_FORMAT_FLOAT_LE,
	};
	int err;

	if ((err = snd_pcm_ioplug_set_param_list(&h->io, SND_PCM_IOPLUG_HW_ACCESS,
						 sizeof(access) / sizeof(access[0]), access)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_list(&h->io, SND_PCM_IOPLUG_HW_FORMAT,
						 sizeof(formats) / sizeof(formats[0]), formats)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&h->io, SND_PCM_IOPLUG_HW_CHANNELS, 1, 32)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&h->io, SND_PCM_IOPLUG_HW_RATE, 4000, 384000)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&h->io, SND_PCM_IOPLUG_HW_PERIOD_BYTES,
						   16, 4 << 20)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&h->io, SND_PCM_IOPLUG_HW_PERIODS, 2, 1024)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&h->io, SND_PCM_IOPLUG_HW_BUFFER_BYTES,
						   64, 16 << 20)) < 0)
		return err;
	return 0;
}

/* opens fail while a disconnect window is open, then on openfail faults */
static int open_faults(struct ht *h, uint64_t now)
{
	unsigned int i;
	int err = 0;

	sess_lock(h);
	session_tick(h, now);
	for (i = 0; i < h->nfaults && !err; i++) {
		const struct ht_fstate *fs = &h->sess->f[i];
		if (h->faults[i].kind == K_DISCONNECT && fs->win_start && now >= fs->win_start &&
		    now < fs->win_end)
			err = -ENODEV;
	}
	for (i = 0; i < h->nfaults && !err; i++) {
		struct ht_fstate *fs = &h->sess->f[i];
		const struct ht_fault *f = &h->faults[i];
		int due;
		if (f->kind != K_OPENFAIL || fs->occ >= f->count)
			continue;
		due = h->sess->epoch_ns ? now >= due_ns(h, i, 0) : f->at_ms == 0;
		if (due) {
			fs->occ++;
			err = -(int)f->value;
		}
	}
	sess_unlock(h);
	if (err)
		trace(h, now, "openFail", "\"errno\":\"%s\"", errno_name(-err));
	return err;
}

static void free_unopened(struct ht *h)
{
	if (h->tfd >= 0)
		close(h->tfd);
	if (h->sess)
		munmap(h->sess, sizeof(*h->sess));
	if (h->sess_fd >= 0)
		close(h->sess_fd);
	if (h->trace_fd >= 0)
		close(h->trace_fd);
	if (h->lock_fd >= 0)
		close(h->lock_fd);
	free(h);
}

/* exclusive mode: see "Exclusive mode" at the top */
static int take_lock(struct ht *h, const char *path, uint64_t now)
{
	char buf[32];
	ssize_t n;
	int fd, e;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = errno;
		SNDERR("healthtest: cannot open lock %s: %s", path, strerror(e));
		return -e;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EWOULDBLOCK) {
			/* the holder's pid is best effort: it may be writing it now */
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = 0;
			buf[strcspn(buf, "\n")] = 0;
			close(fd);
			SNDERR("healthtest: device busy: lock %s held by pid %s", path,
			       *buf ? buf : "?");
			trace(h, now, "openFail", "\"errno\":\"EBUSY\",\"lock\":true,\"holder\":\"%s\"",
			      strspn(buf, "0123456789") == strlen(buf) ? buf : "?");
			return -EBUSY;
		}
		close(fd);
		SNDERR("healthtest: flock %s: %s", path, strerror(e));
		return -e;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) < 0) {
		/* the pid is only for the message; the lock is what counts */
	}
	h->lock_fd = fd;
	return 0;
}

SND_PCM_PLUGIN_DEFINE_FUNC(healthtest)
{
	snd_config_iterator_t i, next;
	const char *faults = "", *id = "", *trace_path = "", *state_dir = NULL, *lock_path = "";
	char default_dir[64];
	int monotonic = 0, err;
	struct ht *h;
	uint64_t now;

	(void)root;
	snd_config_for_each(i, next, conf) {
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *key, **dst = NULL;
		if (snd_config_get_id(n, &key) < 0)
			continue;
		if (!strcmp(key, "comment") || !strcmp(key, "type") || !strcmp(key, "hint"))
			continue;
		if (!strcmp(key, "faults"))
			dst = &faults;
		else if (!strcmp(key, "id"))
			dst = &id;
		else if (!strcmp(key, "trace"))
			dst = &trace_path;
		else if (!strcmp(key, "state_dir"))
			dst = &state_dir;
		else if (!strcmp(key, "lock"))
			dst = &lock_path;
		if (dst) {
			if (snd_config_get_string(n, dst) < 0) {
				SNDERR("healthtest: %s must be a string", key);
				return -EINVAL;
			}
			continue;
		}
		if (!strcmp(key, "monotonic")) {
			monotonic = snd_config_get_bool(n);
			if (monotonic < 0) {
				SNDERR("healthtest: monotonic must be a boolean");
				return -EINVAL;
			}
			continue;
		}
		SNDERR("healthtest: unknown field %s (faults id trace state_dir monotonic lock)", key);
		return -EINVAL;
	}
	if (!state_dir || !*state_dir) {
		state_dir = getenv("HEALTHTEST_STATE_DIR");
		if (!state_dir || !*state_dir) {
			snprintf(default_dir, sizeof(default_dir), "/tmp/alsa-healthtest-%u",
				 (unsigned int)getuid());
			state_dir = default_dir;
		}
	}
	if (*id && !valid_id(id)) {
		SNDERR("healthtest: bad id \"%s\" (1..100 of [A-Za-z0-9._-], not starting with '.')", id);
		return -EINVAL;
	}

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->tfd = h->sess_fd = h->trace_fd = h->lock_fd = -1;
	h->io.stream = stream;
	err = parse_faults(h, faults);
	if (err < 0) {
		free_unopened(h);
		return err;
	}
	if (*id)
		snprintf(h->id, sizeof(h->id), "%s", id);
	else
		snprintf(h->id, sizeof(h->id), "auto-%d-%llu-%c-%016llx", (int)getpid(),
			 proc_starttime(), stream == SND_PCM_STREAM_PLAYBACK ? 'p' : 'c',
			 (unsigned long long)fnv1a(faults));
	if (*trace_path) {
		h->trace_fd = open(trace_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (h->trace_fd < 0) {
			err = -errno;
			SNDERR("healthtest: cannot open trace %s: %s", trace_path, strerror(-err));
			free_unopened(h);
			return err;
		}
	}
	now = now_ns();
	h->open_ns = now;
	if (*lock_path) {
		/* before the session: a busy device fires no openfail fault */
		err = take_lock(h, lock_path, now);
		if (err < 0) {
			free_unopened(h);
			return err;
		}
	}
	err = session_open(h, state_dir, faults);
	if (err < 0) {
		free_unopened(h);
		return err;
	}
	err = open_faults(h, now);
	if (err < 0) {
		free_unopened(h);
		return err;
	}
	h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->tfd < 0) {
		err = -errno;
		SNDERR("healthtest: timerfd_create: %s", strerror(-err));
		free_unopened(h);
		return err;
	}
	trace(h, now, "open", "\"faults\":%u", h->nfaults);

	h->io.version = SND_PCM_IOPLUG_VERSION;
	h->io.name = "alsa-health test PCM";
	h->io.callback = &ht_callback;
	h->io.private_data = h;
	h->io.poll_fd = h->tfd;
	h->io.poll_events = POLLIN;
	h->io.mmap_rw = 0;
	h->io.flags = SND_PCM_IOPLUG_FLAG_BOUNDARY_WA | (monotonic ? SND_PCM_IOPLUG_FLAG_MONOTONIC : 0);
	err = snd_pcm_ioplug_create(&h->io, name, stream, mode);
	if (err < 0) {
		free_unopened(h);
		return err;
	}
	/* ioplug updates io.nonblock on snd_pcm_nonblock() only, not at open */
	h->io.nonblock = (mode & SND_PCM_NONBLOCK) ? 1 : 0;
	err = set_constraints(h);
	if (err < 0) {
		snd_pcm_ioplug_delete(&h->io); /* calls ht_close */
		return err;
	}
	*pcmp = h->io.pcm;
	return 0;
}

SND_PCM_PLUGIN_SYMBOL(healthtest);
