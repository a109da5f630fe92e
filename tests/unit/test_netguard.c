/*
 * broker/netguard: the addresses no trigger may reach, as resolved
 * addresses (the check every connection passes) and written in URLs (the
 * check at trigger add). There is no metadata server here to prove the
 * first by a refused request, so this is where it is proved.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/netguard.h"

/* Is the address text (IPv4 or IPv6) refused? */
static int
refused(const char *text)
{
	struct sockaddr_in	s4;
	struct sockaddr_in6	s6;

	memset(&s4, 0, sizeof s4);
	memset(&s6, 0, sizeof s6);
	if (inet_pton(AF_INET, text, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return (netguard_refused((struct sockaddr *)&s4));
	}
	assert_int_equal(inet_pton(AF_INET6, text, &s6.sin6_addr), 1);
	s6.sin6_family = AF_INET6;
	return (netguard_refused((struct sockaddr *)&s6));
}

static void
test_netguard_addresses(void **state)
{
	static const char *const no[] = {
		"169.254.169.254", "169.254.0.1", "169.254.255.255",
		"::ffff:169.254.169.254", "::169.254.169.254", "fe80::1",
		"febf:ffff::1", "fd00:ec2::254",
	};
	static const char *const yes[] = {
		"127.0.0.1", "10.0.0.1", "192.168.1.1", "169.253.255.255",
		"169.255.0.1", "8.8.8.8", "::1", "::ffff:127.0.0.1",
		"fec0::1", "fd00:ec2::253", "2001:db8::1",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof no / sizeof no[0]; i++)
		if (!refused(no[i]))
			fail_msg("%s is not refused", no[i]);
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (refused(yes[i]))
			fail_msg("%s is refused", yes[i]);
}

static void
test_netguard_urls(void **state)
{
	(void)state;
	assert_true(netguard_url_refused("http://169.254.169.254/latest"));
	assert_true(netguard_url_refused("https://169.254.169.254:443/"));
	assert_true(netguard_url_refused("http://u:p@169.254.169.254"));
	assert_true(netguard_url_refused(
	    "http://[::ffff:169.254.169.254]:80/"));
	assert_true(netguard_url_refused("http://[fe80::1]/x?y"));
	assert_false(netguard_url_refused("http://127.0.0.1:8080/hook"));
	assert_false(netguard_url_refused("http://[::1]:9/"));
	assert_false(netguard_url_refused("http://example.com/169.254.1.1"));
	assert_false(netguard_url_refused("http://metadata.internal/"));
	assert_false(netguard_url_refused("not a url"));
	assert_false(netguard_url_refused("http://"));
	assert_false(netguard_url_refused("http://[::1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netguard_addresses),
		cmocka_unit_test(test_netguard_urls),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
