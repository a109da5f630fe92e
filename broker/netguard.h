/*
 * Where http and lambda triggers may not go: link-local addresses
 * (169.254.0.0/16, fe80::/10), which is where cloud machines keep their
 * metadata and credentials, and AWS's IPv6 metadata address, in any of
 * their IPv4-mapped forms. A trigger's URL is checked when it is made (an
 * address written in it) and every connection when it is opened (what the
 * name resolved to), so DNS cannot lead a trigger there. No state.
 */
#ifndef TP_BROKER_NETGUARD_H
#define TP_BROKER_NETGUARD_H

struct sockaddr;

/* 1 if a trigger may not connect to sa. */
int	netguard_refused(const struct sockaddr *);
/*
 * 1 if url ("scheme://[user@]host[:port]/...") names a refused address
 * literally; a host name is checked when it is resolved.
 */
int	netguard_url_refused(const char *);

#endif
