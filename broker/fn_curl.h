/*
 * libcurl, loaded with dlopen the first time an http or lambda trigger
 * sends a request: a broker without such triggers never maps libcurl or
 * the TLS libraries behind it (several MiB of resident memory). fn_curl
 * holds the functions broker/fn_http calls.
 */
#ifndef TP_BROKER_FN_CURL_H
#define TP_BROKER_FN_CURL_H

#define CURL_DISABLE_TYPECHECK	/* setopt is called through a pointer */
#include <curl/curl.h>

struct tp_err;

struct fn_curl_api {
	CURLcode	 (*global_init)(long);
	void		 (*global_cleanup)(void);
	CURL		*(*easy_init)(void);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	void		 (*easy_cleanup)(CURL *);
	const char	*(*easy_strerror)(CURLcode);
	CURLM		*(*multi_init)(void);
	CURLMcode	 (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode	 (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_socket_action)(CURLM *, curl_socket_t, int,
			    int *);
	CURLMsg		*(*multi_info_read)(CURLM *, int *);
	CURLMcode	 (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode	 (*multi_cleanup)(CURLM *);
	struct curl_slist *(*slist_append)(struct curl_slist *,
			    const char *);
	void		 (*slist_free_all)(struct curl_slist *);
	CURLU		*(*url)(void);
	CURLUcode	 (*url_set)(CURLU *, CURLUPart, const char *,
			    unsigned int);
	CURLUcode	 (*url_get)(const CURLU *, CURLUPart, char **,
			    unsigned int);
	void		 (*url_cleanup)(CURLU *);
	void		 (*free)(void *);
	time_t		 (*getdate)(const char *, const time_t *);
};

extern struct fn_curl_api fn_curl;

/* Load libcurl (once); TP_OK, or TP_EUNSUPPORTED with dlerror's text. */
int	fn_curl_load(struct tp_err *);

#endif
