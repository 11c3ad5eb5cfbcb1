/* SPDX-License-Identifier: MIT */
#include "agent/annotations.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/timeutil.h"

/* Longest id accepted for eip-, cbwp-, pippool-, rg- (prefix included). */
#define MAX_ID_BYTES 64
#define MAX_NAME_CHARS 128
#define MIN_DESCRIPTION_CHARS 2
#define MAX_DESCRIPTION_CHARS 256
#define MAX_PROTECTION_TYPES 10
#define MAX_TAG_KEY_CHARS 128
#define MAX_TAG_VALUE_CHARS 128
#define BANDWIDTH_MAX_TRAFFIC 200
#define BANDWIDTH_MAX_BANDWIDTH 500
/* How much of a value an error message quotes. A quoted byte takes at most
 * four bytes (\xNN), a C1 control character (two bytes) six (\u0085). */
#define QUOTE_MAX_IN 64
#define QUOTE_CAP (2 + 4 * QUOTE_MAX_IN + 3 + 1)

/* The keys the agent's own tags use: refused in eip-tags, so a user cannot
 * forge (or hide) the cluster, node or pod an EIP belongs to. */

/* What one parse has seen so far. The row parsers write into it through
 * offsetof(struct parse_ctx, ...); every string is owned. */
struct parse_ctx {
    eip_request req;
    char *instance_id;  /* pod-eip-instanceid */
    char *allocated_id; /* allocated-eip-id */
    int with_eip;       /* pod-with-eip: -1 not given, 0 "false", 1 "true" */
    const char *key;    /* the annotation being parsed, as the pod wrote it */
    eip_request_error *err;
};

struct annot_row;
/* 0, -EINVAL (after fail()) or -ENOMEM. v is NUL-terminated, len bytes, valid
 * UTF-8 (and free of control characters unless the row says ROW_JSON). */
typedef int (*row_parse_fn)(struct parse_ctx *c, const struct annot_row *row, const char *v,
                            size_t len);

enum {
    PFX_NET = 1u << 0,    /* network.alibabacloud.com/ */
    PFX_LEGACY = 1u << 1, /* k8s.aliyun.com/ */
    PFX_BOTH = PFX_NET | PFX_LEGACY,
};

enum {
    ROW_TYPE = 1u << 0, /* decides the request's type: read even when it turns out NONE */
    ROW_JSON = 1u << 1, /* a JSON text: JSON whitespace (\t \n \r) allowed around tokens */
};

/* One row per logical annotation. It is looked up, for each prefix in turn
 * (network.alibabacloud.com/ first), under its suffix and then under its alias
 * if the alias takes that prefix; the first key present is the one used and
 * every other spelling is ignored. */
struct annot_row {
    const char *suffix;
    const char *alias;       /* a legacy name, or NULL */
    unsigned alias_prefixes; /* PFX_*: the prefixes the alias takes */
    unsigned flags;          /* ROW_* */
    row_parse_fn parse;
    size_t field;    /* where the value goes, offset in struct parse_ctx (a parser
                        that fills several fields names its main one) */
    const void *arg; /* the parser's: an id prefix or a NULL-terminated list */
};

static const char *const internet_charge_types[] = {"PayByTraffic", "PayByBandwidth", NULL};
static const char *const isps[] = {"BGP",
                                   "BGP_PRO",
                                   "ChinaTelecom",
                                   "ChinaUnicom",
                                   "ChinaMobile",
                                   "ChinaTelecom_L2",
                                   "ChinaUnicom_L2",
                                   "ChinaMobile_L2",
                                   "BGP_FinanceCloud",
                                   NULL};

static int parse_bool(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len);
static int parse_id(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len);
static int parse_enum(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len);
static int parse_bandwidth(struct parse_ctx *c, const struct annot_row *row, const char *v,
                           size_t len);
static int parse_instance_charge(struct parse_ctx *c, const struct annot_row *row, const char *v,
                                 size_t len);
static int parse_name(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len);
static int parse_description(struct parse_ctx *c, const struct annot_row *row, const char *v,
                             size_t len);
static int parse_protection_types(struct parse_ctx *c, const struct annot_row *row, const char *v,
                                  size_t len);
static int parse_tags(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len);
static int parse_release(struct parse_ctx *c, const struct annot_row *row, const char *v,
                         size_t len);

#define F(member) offsetof(struct parse_ctx, member)

/* In the order they are parsed, which is the order errors are reported in.
 * eip-internet-charge-type comes before eip-bandwidth: the bandwidth's range
 * depends on it. */
static const struct annot_row rows[] = {
    {"pod-eip-instanceid", "eci-eip-instanceid", PFX_LEGACY, ROW_TYPE, parse_id, F(instance_id),
     "eip-"},
    {"pod-with-eip", "eci-with-eip", PFX_LEGACY, ROW_TYPE, parse_bool, F(with_eip), NULL},
    {"allocated-eip-id", NULL, 0, ROW_TYPE, parse_id, F(allocated_id), "eip-"},
    {"eip-internet-charge-type", "eip-charge-type", PFX_BOTH, 0, parse_enum,
     F(req.internet_charge_type), internet_charge_types},
    {"eip-bandwidth", NULL, 0, 0, parse_bandwidth, F(req.bandwidth), NULL},
    {"eip-instance-charge-type", NULL, 0, 0, parse_instance_charge, F(req.instance_charge_type),
     NULL},
    {"eip-common-bandwidth-package-id", NULL, 0, 0, parse_id, F(req.bandwidth_package_id), "cbwp-"},
    {"eip-isp", NULL, 0, 0, parse_enum, F(req.isp), isps},
    {"eip-public-ip-address-pool-id", NULL, 0, 0, parse_id, F(req.public_ip_address_pool_id),
     "pippool-"},
    {"eip-resource-group-id", NULL, 0, 0, parse_id, F(req.resource_group_id), "rg-"},
    {"eip-name", NULL, 0, 0, parse_name, F(req.name), NULL},
    {"eip-description", NULL, 0, 0, parse_description, F(req.description), NULL},
    {"eip-security-protection-types", NULL, 0, 0, parse_protection_types,
     F(req.security_protection_types), NULL},
    {"eip-tags", NULL, 0, ROW_JSON, parse_tags, F(req.tags), NULL},
    {"pod-eip-release-strategy", NULL, 0, 0, parse_release, F(req.strategy), NULL},
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static char **field_str(struct parse_ctx *c, const struct annot_row *row)
{
    return (char **)(void *)((char *)c + row->field);
}

/* ---- UTF-8 ---- */

/* The length of the well-formed UTF-8 sequence at the start of s (n > 0 bytes)
 * and its code point; 0 for an ill-formed one (a stray continuation byte, a
 * truncated sequence, an overlong form, a surrogate, or above U+10FFFF). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t v, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
        v = b & 0x1fu;
        min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
        len = 3;
        v = b & 0x0fu;
        min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        v = b & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* C0, DEL and C1. */
static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/* Code points in s, which is valid UTF-8. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            n++;
    return n;
}

/* ---- error messages ---- */

static const char hexdigits[] = "0123456789abcdef";

/* Writes v into dst as a double-quoted excerpt for an error message: valid
 * UTF-8 is kept, quotes, backslashes, control characters and ill-formed bytes
 * are escaped (\" \\ \n \r \t \xNN \u0085), so the result is valid UTF-8 and
 * one line. Truncates on purpose: at most QUOTE_MAX_IN bytes of v are quoted,
 * marked by "..." after the closing quote, so a message never echoes a whole
 * value. cap >= QUOTE_CAP. */
static void quote(char *dst, size_t cap, const char *v, size_t len)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t o = 0, i = 0;
    dst[o++] = '"';
    while (i < len && i < QUOTE_MAX_IN) {
        char esc[8];
        const char *out = esc;
        size_t n_out, adv;
        uint32_t cp;
        size_t n = utf8_next(s + i, len - i, &cp);
        if (n == 0 || (n == 1 && is_control(cp) && cp != '\n' && cp != '\r' && cp != '\t')) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hexdigits[s[i] >> 4];
            esc[3] = hexdigits[s[i] & 0xf];
            n_out = 4;
            adv = 1;
        } else if (cp == '"' || cp == '\\' || cp == '\n' || cp == '\r' || cp == '\t') {
            esc[0] = '\\';
            esc[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : cp == '\t' ? 't' : (char)cp;
            n_out = 2;
            adv = 1;
        } else if (is_control(cp)) { /* C1: two bytes, below U+0100 */
            memcpy(esc, "\\u00", 4);
            esc[4] = hexdigits[cp >> 4];
            esc[5] = hexdigits[cp & 0xf];
            n_out = 6;
            adv = n;
        } else {
            out = v + i;
            n_out = n;
            adv = n;
        }
        if (o + n_out + 5 > cap) /* room for '"', "..." and the NUL */
            break;
        memcpy(dst + o, out, n_out);
        o += n_out;
        i += adv;
    }
    dst[o++] = '"';
    if (i < len) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* Fills the error for the annotation being parsed and returns -EINVAL. A key
 * or message too long for its buffer is cut with eip_seterr (they are for
 * people); every message built here fits. */
static int fail(struct parse_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse_ctx *c, const char *fmt, ...)
{
    eip_request_error *err = c->err;
    if (!err)
        return -EINVAL;
    eip_seterr(err->key, sizeof(err->key), "%s", c->key);
    va_list ap;
    va_start(ap, fmt);
    eip_vseterr(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* fail() with the message fmt followed by "; got " and v quoted. */
static int reject(struct parse_ctx *c, const char *v, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int reject(struct parse_ctx *c, const char *v, size_t len, const char *fmt, ...)
{
    char what[sizeof(c->err->message)], q[QUOTE_CAP];
    va_list ap;
    va_start(ap, fmt);
    eip_vseterr(what, sizeof(what), fmt, ap);
    va_end(ap);
    quote(q, sizeof(q), v, len);
    return fail(c, "%s; got %s", what, q);
}

/* "A, B, C" from a NULL-terminated list, cut (on purpose) to cap. */
static void join(char *dst, size_t cap, const char *const *list)
{
    size_t o = 0;
    dst[0] = '\0';
    for (size_t i = 0; list[i]; i++) {
        size_t n = strlen(list[i]);
        size_t sep = i ? 2 : 0;
        if (o + sep + n + 1 > cap)
            break;
        memcpy(dst + o, ", ", sep);
        memcpy(dst + o + sep, list[i], n);
        o += sep + n;
        dst[o] = '\0';
    }
}

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* ---- small helpers ---- */

static bool ascii_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

static bool is_digit(uint32_t cp)
{
    return cp >= '0' && cp <= '9';
}

static bool is_ascii_letter(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
}

/* Letters in an EIP name: the cloud takes Latin letters and Chinese
 * characters (CJK Unified Ideographs and Extension A). */
static bool is_name_letter(uint32_t cp)
{
    return is_ascii_letter(cp) || (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf);
}

/* Whether s holds any of the control characters (all of them, or all but
 * JSON's whitespace). s is valid UTF-8. */
static bool has_control(const char *s, size_t len, bool json_space_ok)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next(p + i, len - i, &cp);
        if (n == 0)
            return true; /* not reached for valid input; refuse rather than loop */
        if (is_control(cp) && !(json_space_ok && (cp == '\t' || cp == '\n' || cp == '\r')))
            return true;
        i += n;
    }
    return false;
}

static int set_str(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len)
{
    char **dst = field_str(c, row);
    char *s = strndup(v, len);
    if (!s)
        return -ENOMEM;
    free(*dst);
    *dst = s;
    return 0;
}

/* ---- row parsers ---- */

static int parse_bool(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len)
{
    int *dst = (int *)(void *)((char *)c + row->field);
    if (ascii_ieq(v, len, "true")) {
        *dst = 1;
    } else if (ascii_ieq(v, len, "false")) {
        *dst = 0;
    } else {
        return reject(c, v, len, "must be \"true\" or \"false\"");
    }
    return 0;
}

static int parse_id(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len)
{
    const char *prefix = row->arg;
    size_t plen = strlen(prefix);
    bool ok = len > plen && len <= MAX_ID_BYTES && memcmp(v, prefix, plen) == 0;
    for (size_t i = plen; ok && i < len; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9');
    if (!ok) {
        return reject(c, v, len,
                      "must be \"%s\" followed by lower-case letters and digits, at most %d bytes",
                      prefix, MAX_ID_BYTES);
    }
    return set_str(c, row, v, len);
}

static int parse_enum(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len)
{
    const char *const *list = row->arg;
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == len && memcmp(list[i], v, len) == 0)
            return set_str(c, row, v, len);
    char accepted[256];
    join(accepted, sizeof(accepted), list);
    return reject(c, v, len, "must be one of %s", accepted);
}

static int parse_instance_charge(struct parse_ctx *c, const struct annot_row *row, const char *v,
                                 size_t len)
{
    if (len == strlen("PostPaid") && memcmp(v, "PostPaid", len) == 0)
        return set_str(c, row, v, len);
    if (len == strlen("PrePaid") && memcmp(v, "PrePaid", len) == 0)
        return reject(c, v, len, "must be PostPaid (subscription EIPs are not supported)");
    return reject(c, v, len, "must be PostPaid");
}

static int parse_bandwidth(struct parse_ctx *c, const struct annot_row *row, const char *v,
                           size_t len)
{
    const char *charge = c->req.internet_charge_type ? c->req.internet_charge_type : "PayByTraffic";
    int max =
        strcmp(charge, "PayByBandwidth") == 0 ? BANDWIDTH_MAX_BANDWIDTH : BANDWIDTH_MAX_TRAFFIC;
    /* Digits only, accumulated while they can still be in range, so no
     * length of digits can overflow. */
    size_t i = 0;
    int value = 0;
    bool too_big = false;
    while (i < len && v[i] >= '0' && v[i] <= '9') {
        if (!too_big) {
            value = value * 10 + (v[i] - '0');
            too_big = value > max;
        }
        i++;
    }
    bool ok = i > 0 && !too_big && value >= 1 &&
              (i == len || ascii_ieq(v + i, len - i, "m") || ascii_ieq(v + i, len - i, "mbps"));
    if (!ok) {
        return reject(c, v, len,
                      "must be an integer from 1 to %d (Mbit/s with %s), optionally followed by "
                      "\"M\" or \"Mbps\"",
                      max, charge);
    }
    int *dst = (int *)(void *)((char *)c + row->field);
    *dst = value;
    return 0;
}

static int parse_name(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t chars = 0;
    bool ok = len > 0;
    /* The character set already keeps out "http://" and "https://". */
    for (size_t i = 0; ok && i < len; chars++) {
        uint32_t cp;
        size_t n = utf8_next(s + i, len - i, &cp);
        ok = n > 0 && (is_name_letter(cp) ||
                       (chars > 0 && (is_digit(cp) || cp == '.' || cp == '_' || cp == '-')));
        i += n ? n : 1;
    }
    if (!ok || chars > MAX_NAME_CHARS) {
        return reject(
            c, v, len,
            "must be 1 to %d characters, a letter first, then letters, digits, '.', '_' or '-'",
            MAX_NAME_CHARS);
    }
    return set_str(c, row, v, len);
}

static int parse_description(struct parse_ctx *c, const struct annot_row *row, const char *v,
                             size_t len)
{
    size_t chars = utf8_chars(v, len);
    if (chars < MIN_DESCRIPTION_CHARS || chars > MAX_DESCRIPTION_CHARS ||
        starts_with(v, len, "http://") || starts_with(v, len, "https://")) {
        char q[QUOTE_CAP];
        quote(q, sizeof(q), v, len);
        return fail(c,
                    "must be %d to %d characters, not starting with http:// or https://; got %s "
                    "(%zu characters)",
                    MIN_DESCRIPTION_CHARS, MAX_DESCRIPTION_CHARS, q, chars);
    }
    return set_str(c, row, v, len);
}

static int parse_protection_types(struct parse_ctx *c, const struct annot_row *row, const char *v,
                                  size_t len)
{
    (void)row;
    size_t n = 1;
    bool ok = true;
    size_t run = 0;
    for (size_t i = 0; ok && i < len; i++) {
        char ch = v[i];
        if (ch == ',') {
            ok = run > 0;
            run = 0;
            n++;
        } else {
            ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_';
            run++;
        }
    }
    if (!ok || run == 0 || n > MAX_PROTECTION_TYPES) {
        return reject(c, v, len,
                      "must be a comma-separated list of 1 to %d names of letters, digits and '_' "
                      "(e.g. AntiDDoS_Enhanced)",
                      MAX_PROTECTION_TYPES);
    }
    int r = 0;
    char **list = calloc(n + 1, sizeof(*list));
    if (!list)
        return -ENOMEM;
    size_t k = 0;
    for (size_t start = 0; start <= len && k < n; k++) {
        const char *comma = memchr(v + start, ',', len - start);
        size_t end = comma ? (size_t)(comma - v) : len;
        if (!(list[k] = strndup(v + start, end - start))) {
            r = -ENOMEM;
            goto out;
        }
        start = end + 1;
    }
    c->req.security_protection_types = list;
    c->req.n_security_protection_types = n;
    list = NULL;
out:
    if (list) {
        for (size_t i = 0; i < n; i++)
            free(list[i]);
        free(list);
    }
    return r;
}

static int cmp_tags(const void *a, const void *b)
{
    const eip_user_tag *x = a, *y = b;
    return strcmp(x->key, y->key);
}

/* What is wrong with a tag key (the end of a sentence), or NULL. */
static const char *tag_key_problem(const char *k, size_t klen)
{
    size_t chars = utf8_chars(k, klen);
    if (has_control(k, klen, false))
        return "must not contain control characters";
    if (chars < 1 || chars > MAX_TAG_KEY_CHARS)
        return "must be 1 to 128 characters";
    if (strcmp(k, EIP_TAG_CLUSTER) == 0 || starts_with(k, klen, EIP_TAG_PREFIX))
        return "must not be " EIP_TAG_CLUSTER " nor start with " EIP_TAG_PREFIX
               " (the agent's own tags)";
    if (starts_with(k, klen, "aliyun") || starts_with(k, klen, "acs:"))
        return "must not start with \"aliyun\" or \"acs:\"";
    if (memmem(k, klen, "http://", 7) || memmem(k, klen, "https://", 8))
        return "must not contain \"http://\" or \"https://\"";
    return NULL;
}

/* One tag of eip-tags, checked and copied into *t. 0, -EINVAL (c's error
 * filled) or -ENOMEM. */
static int take_tag(struct parse_ctx *c, const char *k, size_t klen, json_t *jv, eip_user_tag *t)
{
    char q[QUOTE_CAP];
    const char *problem = tag_key_problem(k, klen);
    if (problem) {
        return reject(c, k, klen, "tag keys %s", problem);
    }
    if (!json_is_string(jv)) {
        quote(q, sizeof(q), k, klen);
        return fail(c, "must be a JSON object of string values; tag %s has %s", q,
                    json_type_name(jv));
    }
    const char *tv = json_string_value(jv);
    size_t tvlen = json_string_length(jv);
    if (has_control(tv, tvlen, false)) {
        return reject(c, tv, tvlen, "tag values must not contain control characters");
    }
    size_t chars = utf8_chars(tv, tvlen);
    if (chars > MAX_TAG_VALUE_CHARS) {
        quote(q, sizeof(q), k, klen);
        return fail(c, "tag values must be at most %d characters; tag %s has %zu",
                    MAX_TAG_VALUE_CHARS, q, chars);
    }
    t->key = strndup(k, klen);
    t->value = strndup(tv, tvlen);
    return t->key && t->value ? 0 : -ENOMEM;
}

/* eip-tags as a JSON object: 0 and *out (new reference), -EINVAL or -ENOMEM. */
static int load_tags_object(struct parse_ctx *c, const char *v, size_t len, json_t **out)
{
    char q[QUOTE_CAP];
    json_error_t jerr;
    json_t *o = NULL;
    *out = NULL;
    if (eip_json_loadb(v, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &o, &jerr) == -ENOMEM)
        return -ENOMEM;
    if (!o) {
        quote(q, sizeof(q), jerr.text, strnlen(jerr.text, sizeof(jerr.text)));
        return fail(c,
                    "must be a JSON object of string values such as {\"team\":\"web\"}; "
                    "got invalid JSON at byte %d: %s",
                    jerr.position, q);
    }
    if (!json_is_object(o)) {
        int r = fail(c, "must be a JSON object of string values such as {\"team\":\"web\"}; got %s",
                     json_type_name(o));
        json_decref(o);
        return r;
    }
    size_t n = json_object_size(o);
    if (n > EIP_MAX_USER_TAGS) {
        json_decref(o);
        return fail(c, "must hold at most %d tags (the cloud's 20 less the agent's %d); got %zu",
                    EIP_MAX_USER_TAGS, EIP_AGENT_TAGS, n);
    }
    *out = o;
    return 0;
}

static int parse_tags(struct parse_ctx *c, const struct annot_row *row, const char *v, size_t len)
{
    (void)row;
    eip_user_tag *tags = NULL;
    size_t n_tags = 0;
    json_t *o = NULL;
    int r = load_tags_object(c, v, len, &o);
    if (r)
        goto out;
    size_t n = json_object_size(o);
    if (n > 0 && !(tags = calloc(n, sizeof(*tags)))) {
        r = -ENOMEM;
        goto out;
    }
    const char *k;
    size_t klen;
    json_t *jv;
    json_object_keylen_foreach(o, k, klen, jv)
    {
        r = take_tag(c, k, klen, jv, &tags[n_tags++]);
        if (r)
            goto out;
    }
    if (n_tags > 0)
        qsort(tags, n_tags, sizeof(*tags), cmp_tags);
    c->req.tags = tags;
    c->req.n_tags = n_tags;
    tags = NULL;
out:
    if (tags) {
        for (size_t i = 0; i < n_tags; i++) {
            free(tags[i].key);
            free(tags[i].value);
        }
        free(tags);
    }
    json_decref(o);
    return r;
}

static int parse_release(struct parse_ctx *c, const struct annot_row *row, const char *v,
                         size_t len)
{
    (void)row;
    int64_t ms = 0;
    c->req.strategy_given = true;
    if (ascii_ieq(v, len, "follow")) {
        c->req.strategy = EIP_RELEASE_FOLLOW;
        return 0;
    }
    if (ascii_ieq(v, len, "never")) {
        c->req.strategy = EIP_RELEASE_NEVER;
        return 0;
    }
    /* v has no NUL inside (control characters are refused). */
    if (eip_duration_parse_ms(v, &ms) != 0 || ms <= 0) {
        return reject(c, v, len,
                      "must be Follow, Never or a positive duration such as 30s, 10m or 1h30m");
    }
    if (!(c->req.release_after = strndup(v, len)))
        return -ENOMEM;
    c->req.strategy = EIP_RELEASE_TTL;
    c->req.release_after_ms = ms;
    return 0;
}

/* ---- the driver ---- */

/* The value of the first spelling of row present in annotations, with its
 * key in key[cap]; NULL when none is. */
static json_t *row_lookup(const json_t *annotations, const struct annot_row *row, char *key,
                          size_t cap)
{
    static const struct {
        unsigned flag;
        const char *prefix;
    } prefixes[] = {{PFX_NET, EIP_ANNOT_PREFIX}, {PFX_LEGACY, EIP_ANNOT_LEGACY_PREFIX}};
    for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
        const char *suffixes[2] = {row->suffix,
                                   row->alias_prefixes & prefixes[p].flag ? row->alias : NULL};
        for (size_t s = 0; s < 2; s++) {
            if (!suffixes[s])
                continue;
            int n = snprintf(key, cap, "%s%s", prefixes[p].prefix, suffixes[s]);
            if (n < 0 || (size_t)n >= cap)
                continue; /* longer than any key in the table: cannot happen */
            json_t *v = json_object_get(annotations, key);
            if (v)
                return v;
        }
    }
    return NULL;
}

/* Checks what every value must be, then hands it to the row's parser. */
static int parse_row(struct parse_ctx *c, const json_t *annotations, const struct annot_row *row)
{
    char key[sizeof(((eip_request_error *)0)->key)];
    json_t *jv = row_lookup(annotations, row, key, sizeof(key));
    if (!jv)
        return 0;
    c->key = key;
    if (!json_is_string(jv))
        return fail(c, "must be a string; got %s", json_type_name(jv));
    const char *v = json_string_value(jv);
    size_t len = json_string_length(jv);
    if (len > EIP_ANNOT_MAX_VALUE)
        return fail(c, "must be at most %d bytes; got %zu bytes", EIP_ANNOT_MAX_VALUE, len);
    const unsigned char *s = (const unsigned char *)v;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next(s + i, len - i, &cp);
        if (n == 0)
            return fail(c, "must be valid UTF-8; got an ill-formed sequence at byte %zu (0x%02x)",
                        i, s[i]);
        i += n;
    }
    if (has_control(v, len, (row->flags & ROW_JSON) != 0)) {
        return reject(c, v, len, "must not contain control characters");
    }
    return row->parse(c, row, v, len);
}

int eip_request_parse(const json_t *annotations, eip_request *out, eip_request_error *err)
{
    struct parse_ctx c;
    memset(&c, 0, sizeof(c));
    c.with_eip = -1;
    c.err = err;
    int r = 0;
    if (err)
        memset(err, 0, sizeof(*err));
    memset(out, 0, sizeof(*out));
    if (!json_is_object(annotations))
        goto out;
    for (size_t i = 0; i < N_ROWS; i++) {
        if (!(rows[i].flags & ROW_TYPE))
            continue;
        if ((r = parse_row(&c, annotations, &rows[i])) != 0)
            goto out;
    }
    if (c.instance_id) {
        c.req.type = EIP_ALLOC_STATIC;
        c.req.allocation_id = c.instance_id;
        c.instance_id = NULL;
    } else if (c.with_eip == 1) {
        /* the agent's own record of the EIP it allocated, if any: a hint */
        c.req.type = EIP_ALLOC_AUTO;
        c.req.allocation_id = c.allocated_id;
        c.allocated_id = NULL;
    } else if (c.allocated_id) {
        c.req.type = EIP_ALLOC_STATIC;
        c.req.allocation_id = c.allocated_id;
        c.allocated_id = NULL;
    } else {
        goto out; /* not an EIP pod: its other annotations are none of our business */
    }
    for (size_t i = 0; i < N_ROWS; i++) {
        if (rows[i].flags & ROW_TYPE)
            continue;
        if ((r = parse_row(&c, annotations, &rows[i])) != 0)
            goto out;
    }
    *out = c.req;
    memset(&c.req, 0, sizeof(c.req));
out:
    free(c.instance_id);
    free(c.allocated_id);
    eip_request_clear(&c.req);
    return r;
}

void eip_request_clear(eip_request *r)
{
    if (!r)
        return;
    free(r->allocation_id);
    free(r->internet_charge_type);
    free(r->instance_charge_type);
    free(r->bandwidth_package_id);
    free(r->isp);
    free(r->public_ip_address_pool_id);
    free(r->resource_group_id);
    free(r->name);
    free(r->description);
    if (r->security_protection_types)
        for (size_t i = 0; i < r->n_security_protection_types; i++)
            free(r->security_protection_types[i]);
    free(r->security_protection_types);
    for (size_t i = 0; r->tags && i < r->n_tags; i++) {
        free(r->tags[i].key);
        free(r->tags[i].value);
    }
    free(r->tags);
    free(r->release_after);
    memset(r, 0, sizeof(*r));
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

bool eip_request_equal(const eip_request *a, const eip_request *b)
{
    if (a == b)
        return true;
    if (!a || !b)
        return false;
    if (a->type != b->type || a->bandwidth != b->bandwidth || a->strategy != b->strategy ||
        a->release_after_ms != b->release_after_ms || a->strategy_given != b->strategy_given ||
        a->n_security_protection_types != b->n_security_protection_types || a->n_tags != b->n_tags)
        return false;
    if (!str_eq(a->allocation_id, b->allocation_id) ||
        !str_eq(a->internet_charge_type, b->internet_charge_type) ||
        !str_eq(a->instance_charge_type, b->instance_charge_type) ||
        !str_eq(a->bandwidth_package_id, b->bandwidth_package_id) || !str_eq(a->isp, b->isp) ||
        !str_eq(a->public_ip_address_pool_id, b->public_ip_address_pool_id) ||
        !str_eq(a->resource_group_id, b->resource_group_id) || !str_eq(a->name, b->name) ||
        !str_eq(a->description, b->description) || !str_eq(a->release_after, b->release_after))
        return false;
    for (size_t i = 0; i < a->n_security_protection_types; i++)
        if (!str_eq(a->security_protection_types[i], b->security_protection_types[i]))
            return false;
    for (size_t i = 0; i < a->n_tags; i++)
        if (!str_eq(a->tags[i].key, b->tags[i].key) || !str_eq(a->tags[i].value, b->tags[i].value))
            return false;
    return true;
}

const char *eip_alloc_type_name(enum eip_alloc_type t)
{
    switch (t) {
    case EIP_ALLOC_NONE:
        return "None";
    case EIP_ALLOC_AUTO:
        return "Auto";
    case EIP_ALLOC_STATIC:
        return "Static";
    }
    return "Unknown";
}

const char *eip_release_strategy_name(enum eip_release_strategy s)
{
    switch (s) {
    case EIP_RELEASE_FOLLOW:
        return "Follow";
    case EIP_RELEASE_TTL:
        return "TTL";
    case EIP_RELEASE_NEVER:
        return "Never";
    }
    return "Unknown";
}
