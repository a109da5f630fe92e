/*
 * Unit tests of proto/error: every TP_E* code has a name, a message and a
 * class; error_set() fills a struct tp_err without allocating, truncating
 * long messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/error.h"

static const struct {
	int		 code;
	const char	*name;
} codes[] = {
	{ TP_OK, "TP_OK" },
	{ TP_EINVAL, "TP_EINVAL" },
	{ TP_EPROTO, "TP_EPROTO" },
	{ TP_ETOOBIG, "TP_ETOOBIG" },
	{ TP_ENOSTATION, "TP_ENOSTATION" },
	{ TP_EEXIST, "TP_EEXIST" },
	{ TP_EBADNAME, "TP_EBADNAME" },
	{ TP_EPERM, "TP_EPERM" },
	{ TP_EUNSUPPORTED, "TP_EUNSUPPORTED" },
	{ TP_ENOSUB, "TP_ENOSUB" },
	{ TP_EVERSION, "TP_EVERSION" },
	{ TP_ENOTRIGGER, "TP_ENOTRIGGER" },
	{ TP_ENOSPC, "TP_ENOSPC" },
	{ TP_EIO, "TP_EIO" },
	{ TP_ENOMEM, "TP_ENOMEM" },
	{ TP_EINTERNAL, "TP_EINTERNAL" },
	{ TP_EBUSY, "TP_EBUSY" },
	{ TP_ESHUTDOWN, "TP_ESHUTDOWN" },
	{ TP_ECONN, "TP_ECONN" },
	{ TP_ETIMEDOUT, "TP_ETIMEDOUT" },
	{ TP_EDONE, "TP_EDONE" },
	{ TP_EFUNCTION, "TP_EFUNCTION" },
};
#define NCODES	(sizeof codes / sizeof codes[0])

static void
test_error_codes_have_names(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < NCODES; i++) {
		assert_true(error_known(codes[i].code));
		assert_string_equal(error_name(codes[i].code), codes[i].name);
	}
}

static void
test_error_codes_have_messages(void **state)
{
	const char	*m;
	size_t		 i, j;

	(void)state;
	for (i = 0; i < NCODES; i++) {
		m = tp_strerror(codes[i].code);
		assert_non_null(m);
		assert_true(strlen(m) > 0);
		assert_string_not_equal(m, "unknown error");
		/* Each message tells its code apart from the others. */
		for (j = 0; j < i; j++)
			assert_string_not_equal(m, tp_strerror(codes[j].code));
	}
}

static void
test_error_codes_are_wire_values(void **state)
{
	(void)state;
	/* These cross the wire: the values are fixed. */
	assert_int_equal(TP_OK, 0);
	assert_int_equal(TP_EINVAL, 1);
	assert_int_equal(TP_EVERSION, 10);
	assert_int_equal(TP_ENOSPC, 20);
	assert_int_equal(TP_ESHUTDOWN, 25);
	assert_int_equal(TP_ECONN, 30);
	assert_int_equal(TP_ETIMEDOUT, 31);
	assert_int_equal(TP_EDONE, 32);
	assert_int_equal(TP_ENOTRIGGER, 11);
	assert_int_equal(TP_EFUNCTION, 40);
}

static void
test_error_client_class(void **state)
{
	int	code;

	(void)state;
	for (code = 1; code <= 11; code++) {
		assert_true(error_known(code));
		assert_int_equal(tp_error_is_client(code), 1);
	}
}

static void
test_error_server_class(void **state)
{
	int	code;

	(void)state;
	assert_int_equal(tp_error_is_client(TP_OK), 0);
	for (code = 20; code <= 31; code++)
		assert_int_equal(tp_error_is_client(code), 0);
	assert_int_equal(tp_error_is_client(TP_EFUNCTION), 0);
}

static void
test_error_unknown_code(void **state)
{
	static const int unknown[] = { -1, 12, 19, 26, 29, 33, 39, 41, 1000 };
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		assert_false(error_known(unknown[i]));
		assert_string_equal(error_name(unknown[i]), "TP_E?");
		assert_string_equal(tp_strerror(unknown[i]), "unknown error");
		assert_int_equal(tp_error_is_client(unknown[i]), 0);
	}
}

static void
test_error_set_null_err(void **state)
{
	(void)state;
	assert_int_equal(error_set(NULL, TP_EIO, "disk %s", "gone"), TP_EIO);
	assert_int_equal(error_set(NULL, TP_OK, NULL), TP_OK);
	assert_int_equal(error_set(NULL, 12345, "x"), 12345);
}

static void
test_error_set_formats(void **state)
{
	struct tp_err	err;

	(void)state;
	memset(&err, 0, sizeof err);
	assert_int_equal(error_set(&err, TP_ENOSTATION, "no station %s (%d)",
	    "orders", 42), TP_ENOSTATION);
	assert_int_equal(err.code, TP_ENOSTATION);
	assert_string_equal(err.message, "no station orders (42)");
}

static void
test_error_set_default_message(void **state)
{
	struct tp_err	err;

	(void)state;
	memset(&err, 'x', sizeof err);
	assert_int_equal(error_set(&err, TP_EPERM, NULL), TP_EPERM);
	assert_int_equal(err.code, TP_EPERM);
	assert_string_equal(err.message, tp_strerror(TP_EPERM));
}

static void
test_error_set_truncates(void **state)
{
	struct tp_err	err;
	char		long_text[1000];

	(void)state;
	memset(long_text, 'm', sizeof long_text - 1);
	long_text[sizeof long_text - 1] = '\0';
	memset(&err, 0, sizeof err);
	assert_int_equal(error_set(&err, TP_EINVAL, "%s", long_text),
	    TP_EINVAL);
	assert_int_equal(sizeof err.message, 256);
	assert_int_equal(strlen(err.message), 255);
	assert_memory_equal(err.message, long_text, 255);
	assert_int_equal(err.code, TP_EINVAL);

	/* Exactly 255 characters fit whole. */
	long_text[255] = '\0';
	assert_int_equal(error_set(&err, TP_EINVAL, "%s", long_text),
	    TP_EINVAL);
	assert_string_equal(err.message, long_text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_codes_have_names),
		cmocka_unit_test(test_error_codes_have_messages),
		cmocka_unit_test(test_error_codes_are_wire_values),
		cmocka_unit_test(test_error_client_class),
		cmocka_unit_test(test_error_server_class),
		cmocka_unit_test(test_error_unknown_code),
		cmocka_unit_test(test_error_set_null_err),
		cmocka_unit_test(test_error_set_formats),
		cmocka_unit_test(test_error_set_default_message),
		cmocka_unit_test(test_error_set_truncates),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
