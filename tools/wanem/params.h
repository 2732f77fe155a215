/*
 * params.h - what the emulated WAN link does to each frame, and its parser.
 *
 * One set of parameters applies to each direction of the link: one-way delay,
 * jitter, loss, reordering and rate. They come from the command line
 * (--delay-ms 15) and, at run time, from a small control file re-read on
 * SIGHUP ("delay_ms = 15" lines), both through wanem_params_set(), so the two
 * accept exactly the same names and values. Values are decimal with an
 * optional fraction ("7.5"), held as integers (ns, parts per million, bit/s).
 * The file parser takes a buffer, so a fuzzer calls it directly.
 */
#ifndef WANEM_PARAMS_H
#define WANEM_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WANEM_DELAY_MAX_MS  60000
#define WANEM_RATE_MAX_MBIT 100000
#define WANEM_CONTROL_MAX   4096 /* bytes of a control file */
#define WANEM_PPM	    1000000u

struct wanem_params {
	int64_t delay_ns;  /* one-way delay added to every frame */
	int64_t jitter_ns; /* each frame's delay varies uniformly by +-this */
	uint32_t loss_ppm; /* frames dropped at random, per million */
	uint32_t reorder_ppm; /* frames sent at once, overtaking, per million */
	uint64_t rate_bps; /* link rate (frame bits serialised); 0: unlimited */
	uint64_t seed;	   /* of the random draws (loss, jitter, reorder) */
	bool seed_given;   /* seed came from the file: reseed on apply */
};

/* No delay, no loss, no limit, seed 1. */
void wanem_params_default(struct wanem_params *p);

/* Set one parameter by name (delay_ms, jitter_ms, loss_pct, reorder_pct,
 * rate_mbit, seed) from its text. 0, or -EINVAL with the reason in err. */
int wanem_params_set(struct wanem_params *p, const char *key, const char *value,
		     char *err, size_t err_size);

/*
 * Parse a control file: "key = value" lines (or key=value), blank lines and
 * '#' comments; each key at most once. The values are set on top of *p (the
 * command line's), so an empty file restores the command line's link.
 * On error, *line and *column (1-based) say where, err what; *p is unchanged.
 */
int wanem_params_parse(const char *buf, size_t len, struct wanem_params *p,
		       unsigned *line, unsigned *column, char *err,
		       size_t err_size);

/* "delay 15.000 ms, jitter 0.000 ms, loss 0.0000 %, ..." for the log. */
void wanem_params_format(const struct wanem_params *p, char *buf, size_t size);

#endif
