/*
 * Exec functions: names, the functions directory and the clean
 * environment of a run. A name is a file name and nothing more: letters,
 * digits, '_', '-' and '.', not first, and never "..", so it cannot leave
 * the directory. It is looked up again at every run, so replacing the
 * file takes effect at the next batch. Loop thread only.
 */
#include "broker/fn_dir.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/config.h"
#include "broker/log.h"
#include "proto/error.h"

static const struct config	*fn_dir_cfg;

void
fn_dir_start(const struct config *cfg)
{
	fn_dir_cfg = cfg;
	if (cfg->exec_triggers == FN_DIR_ANY)
		log_warn("exec-triggers = any: any client may have this "
		    "broker run a shell command of its choosing as its user");
}

/* Is s the name of a function (not a path, not a command line)? */
static int
fn_dir_is_name(const char *s)
{
	size_t	len = strlen(s);

	return (len > 0 && len <= FN_DIR_NAME_MAX && *s != '.' &&
	    *s != '-' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len &&
	    strstr(s, "..") == NULL);
}

/* The path of function name in buf; 1 if it is an executable file. */
static int
fn_dir_find(const char *name, char *buf, size_t size)
{
	struct stat	sb;

	if ((size_t)snprintf(buf, size, "%s/%s", fn_dir_cfg->functions_dir,
	    name) >= size)
		return (0);
	return (stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    access(buf, X_OK) == 0);
}

int
fn_dir_check(const char *command, struct tp_err *err)
{
	char	path[4096];
	int	mode = (int)fn_dir_cfg->exec_triggers;

	if (mode == FN_DIR_OFF)
		return (error_set(err, TP_EPERM, "exec triggers are turned "
		    "off on this broker (exec-triggers = off)"));
	if (fn_dir_is_name(command)) {
		if (fn_dir_find(command, path, sizeof path) ||
		    mode == FN_DIR_ANY)
			return (TP_OK);
		return (error_set(err, TP_EINVAL, "no function %s: put an "
		    "executable file of that name in the functions directory "
		    "%s (functions-dir)", command, fn_dir_cfg->functions_dir));
	}
	if (mode == FN_DIR_ANY)
		return (TP_OK);
	return (error_set(err, TP_EPERM, "an exec trigger names a function "
	    "in the functions directory %s (functions-dir), not a path or "
	    "a command; command strings need exec-triggers = any",
	    fn_dir_cfg->functions_dir));
}

/* "NAME=value" of each name in exec-env that tupelod's environment has. */
static int
fn_dir_env_pass(char **env, size_t *n, size_t cap)
{
	const char	*list = fn_dir_cfg->exec_env, *v;
	char		 name[256];
	size_t		 len;

	while (list != NULL && *list != '\0') {
		len = strcspn(list, ", ");
		if (len > 0 && len < sizeof name) {
			memcpy(name, list, len);
			name[len] = '\0';
			if ((v = getenv(name)) != NULL && *n < cap &&
			    asprintf(&env[(*n)++], "%s=%s", name, v) < 0) {
				env[--(*n)] = NULL;
				return (-1);
			}
		}
		list += len;
		list += strspn(list, ", ");
	}
	return (0);
}

int
fn_dir_prepare(const char *command, char *const *vars, size_t nvars,
    struct fn_dir_prog *prog, struct tp_err *err)
{
	const char	*list = fn_dir_cfg->exec_env;
	char		 path[4096];
	size_t		 cap, n = 0, i;
	int		 code;

	memset(prog, 0, sizeof *prog);
	if ((code = fn_dir_check(command, err)) != TP_OK)
		return (code);
	/* Every name exec-env may list, the vars, PATH, the end. */
	cap = nvars + 2 + (list != NULL ? strlen(list) / 2 + 1 : 0);
	if ((prog->argv = calloc(4, sizeof *prog->argv)) == NULL ||
	    (prog->env = calloc(cap, sizeof *prog->env)) == NULL)
		goto nomem;
	if (fn_dir_is_name(command) && fn_dir_find(command, path,
	    sizeof path)) {
		if ((prog->argv[0] = strdup(path)) == NULL)
			goto nomem;
	} else if ((prog->argv[0] = strdup("/bin/sh")) == NULL ||
	    (prog->argv[1] = strdup("-c")) == NULL ||
	    (prog->argv[2] = strdup(command)) == NULL)
		goto nomem;
	for (i = 0; i < nvars; i++) {
		if ((prog->env[n++] = strdup(vars[i])) == NULL)
			goto nomem;
	}
	if ((prog->env[n++] = strdup(FN_DIR_PATH)) == NULL ||
	    fn_dir_env_pass(prog->env, &n, cap - 1) != 0)
		goto nomem;
	return (TP_OK);
nomem:
	fn_dir_release(prog);
	return (error_set(err, TP_ENOMEM, "out of memory"));
}

void
fn_dir_release(struct fn_dir_prog *prog)
{
	size_t	i;

	for (i = 0; prog->argv != NULL && prog->argv[i] != NULL; i++)
		free(prog->argv[i]);
	for (i = 0; prog->env != NULL && prog->env[i] != NULL; i++)
		free(prog->env[i]);
	free(prog->argv);
	free(prog->env);
	memset(prog, 0, sizeof *prog);
}
