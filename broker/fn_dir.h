/*
 * Exec functions: what a client may name and what then runs. The operator
 * puts executables in the functions directory (functions-dir); an exec
 * trigger names one (exec-triggers = named, the default) and it runs as
 * that file, with no shell between, and a clean environment: the run's
 * TUPELO_* variables, a fixed PATH and the variables exec-env names,
 * copied from tupelod's own (which may hold secrets, so nothing else is).
 * exec-triggers = any also runs a command string through /bin/sh -c, for
 * a broker with one trusted user; off refuses exec triggers.
 */
#ifndef TP_BROKER_FN_DIR_H
#define TP_BROKER_FN_DIR_H

#include <stddef.h>

struct config;
struct tp_err;

/* exec-triggers, as the options table stores it (choice index + 1). */
#define FN_DIR_OFF	1
#define FN_DIR_NAMED	2
#define FN_DIR_ANY	3

#define FN_DIR_NAME_MAX	128
#define FN_DIR_PATH	"PATH=/usr/local/bin:/usr/bin:/bin"

/* A run's program: owned strings, freed by fn_dir_release(). */
struct fn_dir_prog {
	char	**argv;		/* NULL-terminated; argv[0] the path */
	char	**env;		/* NULL-terminated: the whole environment */
};

/* Settings in force (borrowed until the next call or the end). */
void	fn_dir_start(const struct config *);
/*
 * May a trigger run command? TP_OK, or TP_EPERM / TP_EINVAL with a
 * message that names the setting to change.
 */
int	fn_dir_check(const char *, struct tp_err *);
/*
 * What runs for command, with vars (n "NAME=value" strings, copied) added
 * to the environment. TP_OK and *prog filled; TP_EPERM when the settings
 * no longer allow it; TP_ENOMEM.
 */
int	fn_dir_prepare(const char *, char *const *, size_t,
	    struct fn_dir_prog *, struct tp_err *);
void	fn_dir_release(struct fn_dir_prog *);

#endif
