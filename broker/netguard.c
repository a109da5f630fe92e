/*
 * The addresses triggers may not reach. An IPv4-mapped or IPv4-compatible
 * IPv6 address is judged as the IPv4 address it carries, so that
 * [::ffff:169.254.169.254] is no way around the rule. A URL's host in
 * another spelling (decimal, hex) is not recognised here; the check of
 * the connection's address catches it.
 */
#include "broker/netguard.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <string.h>

/* AWS's instance metadata service over IPv6. */
static const uint8_t netguard_aws6[16] = {
	0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54
};

static int
netguard_v4(const uint8_t *a)
{
	return (a[0] == 169 && a[1] == 254);
}

static int
netguard_v6(const uint8_t *a)
{
	static const uint8_t	mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	static const uint8_t	zero[12];

	if (memcmp(a, mapped, 12) == 0 || memcmp(a, zero, 12) == 0)
		return (netguard_v4(a + 12));
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return (1);
	return (memcmp(a, netguard_aws6, 16) == 0);
}

int
netguard_refused(const struct sockaddr *sa)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;

	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)(const void *)sa;
		return (netguard_v4((const uint8_t *)&s4->sin_addr));
	}
	if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		return (netguard_v6(s6->sin6_addr.s6_addr));
	}
	return (0);
}

int
netguard_url_refused(const char *url)
{
	const char	*p, *end, *at;
	char		 host[64];
	uint8_t		 a[16];
	size_t		 len;

	if ((p = strstr(url, "://")) == NULL)
		return (0);
	p += 3;
	end = p + strcspn(p, "/?#");
	if ((at = memchr(p, '@', (size_t)(end - p))) != NULL)
		p = at + 1;
	if (*p == '[') {
		p++;
		len = strcspn(p, "]");
	} else
		len = strcspn(p, ":/?#");
	if (len == 0 || len >= sizeof host || p + len > end)
		return (0);
	memcpy(host, p, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, a) == 1)
		return (netguard_v4(a));
	if (inet_pton(AF_INET6, host, a) == 1)
		return (netguard_v6(a));
	return (0);
}
