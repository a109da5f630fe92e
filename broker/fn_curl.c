/*
 * dlopen of libcurl's run-time library by its soname, and dlsym of each
 * function fn_http uses. The library stays loaded once loaded.
 */
#include "broker/fn_curl.h"

#include <dlfcn.h>
#include <stddef.h>

#include "proto/error.h"

#define FN_CURL_SONAME	"libcurl.so.4"

struct fn_curl_api	 fn_curl;
static void		*fn_curl_lib;

#define FN_CURL_SYM(field, name)	\
	{ #name, offsetof(struct fn_curl_api, field) }

static const struct {
	const char	*name;
	size_t		 off;
} fn_curl_syms[] = {
	FN_CURL_SYM(global_init, curl_global_init),
	FN_CURL_SYM(global_cleanup, curl_global_cleanup),
	FN_CURL_SYM(easy_init, curl_easy_init),
	FN_CURL_SYM(easy_setopt, curl_easy_setopt),
	FN_CURL_SYM(easy_getinfo, curl_easy_getinfo),
	FN_CURL_SYM(easy_cleanup, curl_easy_cleanup),
	FN_CURL_SYM(easy_strerror, curl_easy_strerror),
	FN_CURL_SYM(multi_init, curl_multi_init),
	FN_CURL_SYM(multi_setopt, curl_multi_setopt),
	FN_CURL_SYM(multi_add_handle, curl_multi_add_handle),
	FN_CURL_SYM(multi_remove_handle, curl_multi_remove_handle),
	FN_CURL_SYM(multi_socket_action, curl_multi_socket_action),
	FN_CURL_SYM(multi_info_read, curl_multi_info_read),
	FN_CURL_SYM(multi_assign, curl_multi_assign),
	FN_CURL_SYM(multi_cleanup, curl_multi_cleanup),
	FN_CURL_SYM(slist_append, curl_slist_append),
	FN_CURL_SYM(slist_free_all, curl_slist_free_all),
	FN_CURL_SYM(url, curl_url),
	FN_CURL_SYM(url_set, curl_url_set),
	FN_CURL_SYM(url_get, curl_url_get),
	FN_CURL_SYM(url_cleanup, curl_url_cleanup),
	FN_CURL_SYM(free, curl_free),
	FN_CURL_SYM(getdate, curl_getdate),
};

int
fn_curl_load(struct tp_err *err)
{
	void	*lib, *sym;
	size_t	 i;

	if (fn_curl_lib != NULL)
		return (TP_OK);
	if ((lib = dlopen(FN_CURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return (error_set(err, TP_EUNSUPPORTED, "cannot load %s: %s",
		    FN_CURL_SONAME, dlerror()));
	for (i = 0; i < sizeof fn_curl_syms / sizeof fn_curl_syms[0]; i++) {
		if ((sym = dlsym(lib, fn_curl_syms[i].name)) == NULL) {
			dlclose(lib);
			return (error_set(err, TP_EUNSUPPORTED, "%s has no %s",
			    FN_CURL_SONAME, fn_curl_syms[i].name));
		}
		/* POSIX: a data pointer from dlsym converts to a function. */
		*(void **)((char *)&fn_curl + fn_curl_syms[i].off) = sym;
	}
	fn_curl_lib = lib;
	return (TP_OK);
}
