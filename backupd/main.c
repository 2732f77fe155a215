/*
 * main.c - backupd: point-in-time backups of a module's replicated
 * directories to object storage (S3, Azure Blob) or a directory.
 *
 * Work in progress: the repository and its commands are being built
 * (issue 16, docs/backup.md). This entry point only answers --help.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: backupd --help\n");
		return 0;
	}
	fprintf(stderr, "backupd: not usable yet (issue 16)\n");
	return 2;
}
