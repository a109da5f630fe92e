/*
 * Temporary directories for the unit tests that need real files.
 */
#include "tmpdir.h"

#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
tmpdir_make(char *buf, size_t len)
{
	const char	*tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(buf, len, "%s/tupelo-unit.XXXXXX", tmp) >= len ||
	    mkdtemp(buf) == NULL) {
		if (len > 0)
			buf[0] = '\0';
		return (-1);
	}
	return (0);
}

void
tmpdir_remove(const char *path)
{
	struct stat	 sb;
	struct dirent	*de;
	DIR		*d;
	char		 sub[PATH_MAX];

	if (lstat(path, &sb) == -1)
		return;
	if (!S_ISDIR(sb.st_mode)) {
		unlink(path);
		return;
	}
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
			tmpdir_remove(sub);
		}
		closedir(d);
	}
	rmdir(path);
}
