/*
 * console.h - the web console's static files (console.c).
 */
#ifndef HEALTHD_CONSOLE_H
#define HEALTHD_CONSOLE_H

extern const char healthd_console_html[];
extern const char healthd_console_css[];
extern const char healthd_console_js[];

#endif
