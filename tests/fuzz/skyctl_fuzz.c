/*
 * skyctl_fuzz.c - ctl/render.c skyctl_render_status(): skyctl's view of
 * the status heartbeatd returns. It carries what other processes said
 * (actuators' details from the bus, the peer's names and reasons), so
 * render.h treats it as hostile: whatever it holds, the text written to
 * the terminal must not steer it.
 *
 * The bytes are the status object, read as sky_ctl_call reads a reply
 * (sky_bus_parse_body); the rendered text may hold no control
 * character but newline, no DEL, no C1 control and no bidirectional
 * override or isolate.
 */
#include "../../ctl/render.h"
#include "bus.h"
#include "fuzz.h"

static void check_text(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(s[i] >= 0x20 || s[i] == '\n');
		FUZZ_ASSERT(s[i] != 0x7f);
		/* U+0080..U+009F */
		FUZZ_ASSERT(!(s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 &&
			      s[i + 1] <= 0x9f));
		/* U+202A..U+202E, U+2066..U+2069 */
		if (s[i] == 0xe2 && i + 2 < n) {
			FUZZ_ASSERT(!(s[i + 1] == 0x80 && s[i + 2] >= 0xaa &&
				      s[i + 2] <= 0xae));
			FUZZ_ASSERT(!(s[i + 1] == 0x81 && s[i + 2] >= 0xa6 &&
				      s[i + 2] <= 0xa9));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *status;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	if (sky_bus_parse_body(data, size, SKY_BUS_MSG_MAX, &status) < 0)
		return 0;
	out = open_memstream(&text, &len);
	FUZZ_ASSERT(out);
	FUZZ_ASSERT(skyctl_render_status(out, status) == 0);
	fclose(out);
	check_text((const unsigned char *)text, len);
	free(text);
	json_decref(status);
	return 0;
}
