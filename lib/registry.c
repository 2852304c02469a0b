/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <curl/curl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <strings.h>

#include "build-config.h"
#include "digest.h"
#include "fs.h"
#include "log.h"
#include "registry.h"
#include "util.h"
#include "www-auth.h"

#define HEADER_VALUE_MAX 8192
#define ERROR_BODY_MAX (16u << 10)
#define TOKEN_BODY_MAX (1u << 20)
#define TOKEN_MAX (16u << 10)
#define PROGRESS_STEP (4u << 20)

#define ACCEPT_MANIFESTS                                                                              \
        "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " \
        "application/vnd.docker.distribution.manifest.list.v2+json, "                                 \
        "application/vnd.docker.distribution.manifest.v2+json"

struct Registry {
        CURL *curl;
        ImageRef ref;
        char *scheme;         /* "https", or "http" once the registry turned out not to speak TLS */
        char *host;           /* the host:port we talk to (docker.io's API lives elsewhere) */
        bool scheme_known;    /* a request went through: no more falling back */
        bool plain_http_ok;
        RegistryOptions o;
        char *authorization;  /* "Authorization: ..." for the registry's origin only; NULL: anonymous */
        char curl_error[CURL_ERROR_SIZE];
};

/* Where a body goes: memory (manifests, tokens) or an fd (blobs), checked
 * and hashed as it comes. */
typedef struct Sink {
        char *buf;            /* memory sink */
        size_t max;
        int fd;               /* blob sink, or -EBADF */
        Digest *digest;       /* blob sink */
        DigestAlgorithm alg;
        uint64_t received;    /* accepted bytes, over all attempts */
        uint64_t expect;      /* the declared size; UINT64_MAX: unknown */
        uint64_t announced;   /* a Content-Length that disagreed with it */
        int error;            /* why the write callback stopped the transfer */
        bool started;         /* the body of this attempt began */
        const char *label;    /* progress */
        uint64_t next_progress;
} Sink;

typedef struct Response {
        long status;
        char *content_type, *docker_digest, *www_authenticate, *location, *content_range;
        char *error_body;
        size_t error_len;
} Response;

static void response_done(Response *p) {
        free(p->content_type);
        free(p->docker_digest);
        free(p->www_authenticate);
        free(p->location);
        free(p->content_range);
        free(p->error_body);
        *p = (Response) {};
}

typedef struct Request {
        Registry *r;
        Sink *sink;
        Response *resp;
} Request;

Registry *registry_free(Registry *r) {
        if (!r)
                return NULL;
        if (r->curl)
                curl_easy_cleanup(r->curl);
        image_ref_done(&r->ref);
        free(r->scheme);
        free(r->host);
        if (r->authorization)
                explicit_bzero(r->authorization, strlen(r->authorization));
        free(r->authorization);
        free(r);
        return NULL;
}

int registry_new(const ImageRef *ref, const RegistryOptions *o, Registry **ret) {
        _cleanup_(registry_freep) Registry *r = xcalloc(1, sizeof *r);
        r->ref = (ImageRef) {
                .registry = xstrdup(ref->registry),
                .repository = xstrdup(ref->repository),
        };
        /* Docker Hub's name and its API's host differ. */
        r->host = xstrdup(streq(ref->registry, "docker.io") ? "registry-1.docker.io" : ref->registry);
        r->scheme = xstrdup("https");
        r->o = *o;
        r->plain_http_ok = o->insecure || image_ref_registry_is_loopback(ref->registry);
        r->curl = curl_easy_init();
        if (!r->curl)
                return log_error_errno(SYNTHETIC_ERRNO(ENOMEM), "Failed to set up libcurl.");
        CURL *c = r->curl;
        bool ok = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
                  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L) == CURLE_OK &&
                  /* A stalled transfer ends after a minute (then it is retried). */
                  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK &&
                  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L) == CURLE_OK &&
                  /* The bytes we hash must be the registry's: no transparent decoding. */
                  curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L) == CURLE_OK &&
                  curl_easy_setopt(c, CURLOPT_USERAGENT, "berth/" BERTH_VERSION) == CURLE_OK &&
                  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_error) == CURLE_OK &&
                  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L) == CURLE_OK &&
                  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L) == CURLE_OK &&
                  (!o->ca_file || curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file) == CURLE_OK);
        if (!ok)
                return log_error_errno(SYNTHETIC_ERRNO(ENOTSUP), "This libcurl lacks an option berth needs.");
        *ret = TAKE_PTR(r);
        return 0;
}

/* ----- One HTTP exchange ----- */

static void header_set(char **slot, const char *v, size_t n) {
        free(*slot);
        *slot = strndup(v, n);
        if (!*slot)
                abort();
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *userdata) {
        Request *q = userdata;
        size_t n = size * nitems;
        if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
                /* A new response (after a 100 Continue, say): forget the last. */
                response_done(q->resp);
                return n;
        }
        const char *colon = memchr(buf, ':', n);
        if (!colon)
                return n;
        size_t name_len = (size_t) (colon - buf);
        const char *v = colon + 1;
        size_t vn = n - name_len - 1;
        while (vn > 0 && (*v == ' ' || *v == '\t'))
                v++, vn--;
        while (vn > 0 && strchr("\r\n \t", v[vn - 1]))
                vn--;
        if (vn > HEADER_VALUE_MAX || memchr(v, '\0', vn))
                return n; /* not a value we would use */
        static const struct {
                const char *name;
                size_t offset;
        } wanted[] = {
                { "content-type", offsetof(Response, content_type) },
                { "docker-content-digest", offsetof(Response, docker_digest) },
                { "www-authenticate", offsetof(Response, www_authenticate) },
                { "location", offsetof(Response, location) },
                { "content-range", offsetof(Response, content_range) },
        };
        for (size_t i = 0; i < ELEMENTSOF(wanted); i++)
                if (strlen(wanted[i].name) == name_len && strncasecmp(buf, wanted[i].name, name_len) == 0)
                        header_set((char **) ((char *) q->resp + wanted[i].offset), v, vn);
        return n;
}

static void show_progress(Sink *s, bool done) {
        if (!s->label)
                return;
        if (!done && s->received < s->next_progress)
                return;
        s->next_progress = s->received + PROGRESS_STEP;
        fprintf(stderr, "\rPulling %s: %.1f of %.1f MiB%s", s->label, (double) s->received / (1 << 20),
                (double) s->expect / (1 << 20), done ? "\n" : "");
}

/* The first bytes of a body: a 206 must continue where we are, a 200
 * starts over. */
static int sink_begin(Request *q, long status) {
        Sink *s = q->sink;
        s->started = true;
        /* A length announced is checked before the first byte is taken. */
        curl_off_t cl = -1;
        if (s->expect != UINT64_MAX &&
            curl_easy_getinfo(q->r->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl >= 0 &&
            (uint64_t) cl != s->expect - (status == 206 ? s->received : 0)) {
                s->announced = (uint64_t) cl;
                return -EMSGSIZE;
        }
        if (status == 206) {
                uint64_t from;
                const char *cr = q->resp->content_range, *p;
                if (!cr || !(p = startswith(cr, "bytes ")) || safe_atou64_n(p, strcspn(p, "-"), &from) < 0 ||
                    from != s->received)
                        return -EPROTO;
                return 0;
        }
        if (s->received == 0)
                return 0;
        /* The server ignored our Range: take it all again. */
        if (s->fd < 0)
                return -EPROTO;
        if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
                return -errno;
        digest_free(s->digest);
        s->digest = digest_new(s->alg);
        s->received = 0;
        s->next_progress = 0;
        return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Request *q = userdata;
        Sink *s = q->sink;
        size_t n = size * nmemb;
        long status = 0;
        (void) curl_easy_getinfo(q->r->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status >= 300 || !s) {
                /* An error's (or a redirect's) body: kept, bounded, for the message. */
                Response *p = q->resp;
                size_t room = p->error_len < ERROR_BODY_MAX ? ERROR_BODY_MAX - p->error_len : 0;
                size_t take = n < room ? n : room;
                if (take > 0) {
                        p->error_body = realloc(p->error_body, p->error_len + take + 1);
                        if (!p->error_body)
                                abort();
                        memcpy(p->error_body + p->error_len, ptr, take);
                        p->error_len += take;
                        p->error_body[p->error_len] = '\0';
                }
                return n;
        }
        if (!s->started) {
                int r = sink_begin(q, status);
                if (r < 0) {
                        s->error = r;
                        return 0;
                }
        }
        if (n > s->expect - s->received || (s->fd < 0 && n > s->max - s->received)) {
                s->error = -EFBIG;
                return 0;
        }
        if (s->fd >= 0) {
                int r = write_all(s->fd, ptr, n);
                if (r < 0) {
                        s->error = log_error_errno(r, "Failed to write to the image store: %m");
                        return 0;
                }
        } else {
                s->buf = realloc(s->buf, s->received + n + 1);
                if (!s->buf)
                        abort();
                memcpy(s->buf + s->received, ptr, n);
                s->buf[s->received + n] = '\0';
        }
        if (s->digest)
                digest_update(s->digest, ptr, n);
        s->received += n;
        show_progress(s, false);
        return n;
}

/* scheme, host and port of URL (port made explicit), for comparing origins. */
static int url_origin(const char *url, char **ret) {
        CURLU *u = curl_url();
        if (!u)
                abort();
        char *scheme = NULL, *host = NULL, *port = NULL;
        int r = 0;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
                r = -EINVAL;
        else
                *ret = xasprintf("%s://%s:%s", scheme, host, port);
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return r;
}

static char *registry_origin(Registry *r) {
        _cleanup_free_ char *base = xasprintf("%s://%s/", r->scheme, r->host);
        char *o = NULL;
        if (url_origin(base, &o) < 0)
                abort(); /* host was validated */
        return o;
}

/* LOCATION relative to BASE. */
static int url_resolve(const char *base, const char *location, char **ret) {
        CURLU *u = curl_url();
        if (!u)
                abort();
        char *out = NULL;
        int r = 0;
        if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
            curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
                r = -EINVAL;
        else
                *ret = xstrdup(out);
        curl_free(out);
        curl_url_cleanup(u);
        return r;
}

/* One GET of URL: no redirect, no retry.  AUTHORIZATION and ACCEPT are
 * whole header lines or NULL.  Returns 0 with RESP filled (any status), or
 * -errno for a transport failure (-EPROTONOSUPPORT: no TLS there). */
static int perform(Registry *r, const char *url, const char *authorization, const char *accept, Sink *sink,
                   Response *resp) {
        struct curl_slist *h = NULL;
        if (accept)
                h = curl_slist_append(h, accept);
        if (authorization)
                h = curl_slist_append(h, authorization);
        _cleanup_free_ char *range = sink && sink->received > 0 ? xasprintf("%" PRIu64 "-", sink->received) : NULL;
        Request q = { .r = r, .sink = sink, .resp = resp };
        if (sink)
                sink->started = false;
        CURL *c = r->curl;
        r->curl_error[0] = '\0';
        CURLcode cc;
        if ((cc = curl_easy_setopt(c, CURLOPT_URL, url)) != CURLE_OK ||
            (cc = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L)) != CURLE_OK ||
            (cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, h)) != CURLE_OK ||
            (cc = curl_easy_setopt(c, CURLOPT_RANGE, range)) != CURLE_OK ||
            (cc = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb)) != CURLE_OK ||
            (cc = curl_easy_setopt(c, CURLOPT_HEADERDATA, &q)) != CURLE_OK ||
            (cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb)) != CURLE_OK ||
            (cc = curl_easy_setopt(c, CURLOPT_WRITEDATA, &q)) != CURLE_OK)
                goto done;
        cc = curl_easy_perform(c);
        if (cc == CURLE_OK)
                (void) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
done:
        /* Nothing keeps a pointer to the header lines past this call. */
        (void) curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(h);
        if (cc == CURLE_OK)
                return 0;
        if (cc == CURLE_WRITE_ERROR && sink && sink->error < 0)
                return sink->error;
        if (cc == CURLE_SSL_CONNECT_ERROR)
                return -EPROTONOSUPPORT;
        if (cc == CURLE_PEER_FAILED_VERIFICATION)
                return -EPERM;
        return -EIO;
}

/* The registry's {"errors":[{"code":...,"message":...}]} as printable
 * text, or NULL. */
static char *error_text(const Response *resp) {
        if (!resp->error_body)
                return NULL;
        json_object *o = json_tokener_parse(resp->error_body);
        json_object *errs, *e, *code, *msg;
        char *t = NULL;
        if (o && json_object_object_get_ex(o, "errors", &errs) && json_object_is_type(errs, json_type_array) &&
            json_object_array_length(errs) > 0 && (e = json_object_array_get_idx(errs, 0)) &&
            json_object_object_get_ex(e, "code", &code) && json_object_is_type(code, json_type_string)) {
                const char *m = json_object_object_get_ex(e, "message", &msg) &&
                                                json_object_is_type(msg, json_type_string)
                                        ? json_object_get_string(msg)
                                        : "";
                _cleanup_free_ char *raw = xasprintf("%.80s%s%.200s", json_object_get_string(code),
                                                     *m ? ": " : "", m);
                t = strdup_printable(raw);
        }
        json_object_put(o);
        return t;
}

/* ----- Authentication ----- */

static char *basic_header(const char *user, const char *password) {
        _cleanup_free_ char *plain = xasprintf("%s:%s", user, password);
        size_t n = strlen(plain);
        char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *) b64, (const unsigned char *) plain, (int) n);
        explicit_bzero(plain, n);
        char *h = xasprintf("Authorization: Basic %s", b64);
        explicit_bzero(b64, strlen(b64));
        free(b64);
        return h;
}

static bool token_valid(const char *t) {
        size_t n = strlen(t);
        if (n == 0 || n > TOKEN_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (t[i] <= ' ' || t[i] >= 0x7f)
                        return false;
        return true;
}

/* A bearer token from the challenge's realm. */
static int fetch_token(Registry *r, const AuthChallenge *ch) {
        _cleanup_free_ char *realm_origin = NULL, *origin = registry_origin(r);
        if (url_origin(ch->realm, &realm_origin) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EPROTO), "%s: the token realm '%.200s' is not a URL.",
                                       r->ref.registry, ch->realm);
        bool same = streq(realm_origin, origin);
        bool https = startswith(realm_origin, "https://") != NULL;
        if (!https && !same && !r->plain_http_ok)
                return log_error_errno(SYNTHETIC_ERRNO(EPROTO),
                                       "%s: refusing the plain HTTP token realm %.200s (use --insecure to allow it).",
                                       r->ref.registry, ch->realm);
        _cleanup_free_ char *scope = ch->scope ? NULL : xasprintf("repository:%s:pull", r->ref.repository);
        char *es = curl_easy_escape(r->curl, ch->scope ?: scope, 0);
        char *ev = ch->service ? curl_easy_escape(r->curl, ch->service, 0) : NULL;
        if (!es || (ch->service && !ev))
                abort();
        _cleanup_free_ char *url = xasprintf("%s%sscope=%s%s%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?", es,
                                             ev ? "&service=" : "", ev ?: "");
        curl_free(es);
        curl_free(ev);
        /* The credentials go to the realm the registry names, but only over
         * TLS or to the registry itself. */
        _cleanup_free_ char *basic = r->o.username && (https || same) ? basic_header(r->o.username, r->o.password)
                                                                       : NULL;
        Sink sink = { .fd = -EBADF, .max = TOKEN_BODY_MAX, .expect = UINT64_MAX };
        _cleanup_(response_done) Response resp = {};
        int k = perform(r, url, basic, NULL, &sink, &resp);
        if (basic)
                explicit_bzero(basic, strlen(basic));
        _cleanup_free_ char *body = sink.buf;
        if (k < 0)
                return log_error_errno(k, "%s: cannot get a token from %.200s: %s", r->ref.registry, ch->realm,
                                       r->curl_error[0] ? r->curl_error : strerror(-k));
        if (resp.status == 401 || resp.status == 403)
                return log_error_errno(SYNTHETIC_ERRNO(EACCES),
                                       "%s: the token service refused %s (HTTP %ld); check the credentials in the "
                                       "auth file (--authfile).",
                                       r->ref.registry, r->o.username ? "our credentials" : "an anonymous pull",
                                       resp.status);
        if (resp.status != 200)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "%s: the token service answered HTTP %ld.",
                                       r->ref.registry, resp.status);
        json_object *o = body ? json_tokener_parse(body) : NULL, *t = NULL;
        if (o && !json_object_object_get_ex(o, "token", &t))
                (void) json_object_object_get_ex(o, "access_token", &t);
        const char *token = t && json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;
        if (!token || !token_valid(token)) {
                json_object_put(o);
                return log_error_errno(SYNTHETIC_ERRNO(EPROTO), "%s: the token service's answer has no token.",
                                       r->ref.registry);
        }
        free(r->authorization);
        r->authorization = xasprintf("Authorization: Bearer %s", token);
        json_object_put(o);
        if (body)
                explicit_bzero(body, sink.received);
        return 0;
}

/* Answer a 401's challenge; -EACCES (logged) if we have nothing better to
 * send than what was just refused. */
static int authenticate(Registry *r, const Response *resp, bool retried) {
        _cleanup_(auth_challenge_done) AuthChallenge ch = { .scheme = _AUTH_SCHEME_INVALID };
        int k = resp->www_authenticate ? www_auth_parse(resp->www_authenticate, &ch) : -ENOMSG;
        if (k < 0) {
                _cleanup_free_ char *h = strdup_printable(resp->www_authenticate);
                return log_error_errno(SYNTHETIC_ERRNO(EACCES),
                                       "%s: authentication required, but the challenge '%.200s' is %s.",
                                       r->ref.registry, h,
                                       k == -EOPNOTSUPP ? "of a scheme berth does not speak (Basic and Bearer)"
                                                        : "malformed");
        }
        if (retried)
                return log_error_errno(SYNTHETIC_ERRNO(EACCES),
                                       "%s: access to %s denied%s; check the credentials for %s in the auth file "
                                       "(--authfile).",
                                       r->ref.registry, r->ref.repository,
                                       r->o.username ? " with our credentials" : " without credentials",
                                       r->ref.registry);
        if (ch.scheme == AUTH_SCHEME_BASIC) {
                if (!r->o.username)
                        return log_error_errno(SYNTHETIC_ERRNO(EACCES),
                                               "%s: the registry wants a user name and password, and the auth file "
                                               "has none for it (see --authfile).",
                                               r->ref.registry);
                if (!streq(r->scheme, "https") && !r->o.insecure)
                        /* Loopback may be plain HTTP, but a password is not sent in the clear. */
                        log_warning("%s: sending credentials over plain HTTP (loopback).", r->ref.registry);
                free(r->authorization);
                r->authorization = basic_header(r->o.username, r->o.password);
                return 0;
        }
        return fetch_token(r, &ch);
}

/* ----- Requests with redirects and authentication ----- */

/* GET PATH (below /v2/) from the registry.  0 with RESP (a final status:
 * 2xx or an error the caller judges), or -errno: logged, but for transport
 * trouble the caller may retry (-EIO, curl's words in r->curl_error) and
 * the sink's verdicts (-EFBIG, -EPROTO). */
static int get(Registry *r, const char *path, const char *accept, Sink *sink, Response *resp) {
        bool authed = false;
        unsigned redirects = 0;
        _cleanup_free_ char *url = NULL;
        for (;;) {
                if (!url)
                        url = xasprintf("%s://%s/v2/%s", r->scheme, r->host, path);
                _cleanup_free_ char *origin = registry_origin(r), *here = NULL;
                if (url_origin(url, &here) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EPROTO), "%s: bad URL.", r->ref.registry);
                /* Credentials for the registry's own origin only. */
                const char *authz = streq(here, origin) ? r->authorization : NULL;
                response_done(resp);
                int k = perform(r, url, authz, accept, sink, resp);
                if (k == -EPROTONOSUPPORT && !r->scheme_known && r->plain_http_ok && redirects == 0) {
                        /* A loopback (or --insecure) registry without TLS. */
                        log_debug("%s does not speak TLS; using plain HTTP.", r->ref.registry);
                        free(r->scheme);
                        r->scheme = xstrdup("http");
                        r->scheme_known = true;
                        free(url);
                        url = NULL;
                        continue;
                }
                if (k == -EPERM)
                        return log_error_errno(k, "%s: TLS certificate verification failed: %s (--ca-file names a CA "
                                               "to trust).",
                                               r->ref.registry, r->curl_error);
                if (k == -EFBIG || k == -EMSGSIZE || k == -EPROTO || (k < 0 && k != -EIO && k != -EPROTONOSUPPORT))
                        return k; /* the sink's verdict: the caller says what */
                if (k == -EPROTONOSUPPORT && !r->plain_http_ok)
                        return log_error_errno(SYNTHETIC_ERRNO(EPROTO),
                                               "%s: %s (a registry without TLS needs --insecure).",
                                               r->ref.registry, r->curl_error);
                if (k < 0) {
                        if (!r->curl_error[0])
                                snprintf(r->curl_error, sizeof r->curl_error, "transfer failed");
                        return -EIO;
                }
                r->scheme_known = true;
                if (resp->status == 401) {
                        k = authenticate(r, resp, authed);
                        if (k < 0)
                                return k;
                        authed = true;
                        free(url);
                        url = NULL;
                        redirects = 0;
                        continue;
                }
                if (resp->status >= 300 && resp->status < 400 && resp->status != 304) {
                        if (!resp->location)
                                return log_error_errno(SYNTHETIC_ERRNO(EPROTO), "%s: HTTP %ld without a Location.",
                                                       r->ref.registry, resp->status);
                        if (++redirects > REGISTRY_REDIRECTS_MAX)
                                return log_error_errno(SYNTHETIC_ERRNO(ELOOP), "%s: more than %u redirects.",
                                                       r->ref.registry, REGISTRY_REDIRECTS_MAX);
                        _cleanup_free_ char *next = NULL, *next_origin = NULL;
                        if (url_resolve(url, resp->location, &next) < 0 || url_origin(next, &next_origin) < 0 ||
                            !(startswith(next, "https://") || startswith(next, "http://")))
                                return log_error_errno(SYNTHETIC_ERRNO(EPROTO), "%s: a redirect to a bad URL.",
                                                       r->ref.registry);
                        if (startswith(url, "https://") && startswith(next, "http://") && !r->o.insecure)
                                return log_error_errno(SYNTHETIC_ERRNO(EPROTO),
                                                       "%s: refusing a redirect from HTTPS to plain HTTP.",
                                                       r->ref.registry);
                        free(url);
                        url = TAKE_PTR(next);
                        continue;
                }
                return 0;
        }
}

/* Turn a final non-2xx status into a logged error. */
static int status_error(Registry *r, const Response *resp, const char *what) {
        _cleanup_free_ char *text = error_text(resp);
        int e = resp->status == 404                          ? ENOENT
                : resp->status == 401 || resp->status == 403 ? EACCES
                : resp->status == 429 || resp->status >= 500 ? EAGAIN
                                                             : EIO;
        if (e == ENOENT)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "%s/%s: %s not found (HTTP 404%s%s).",
                                       r->ref.registry, r->ref.repository, what, text ? ": " : "", text ?: "");
        return log_error_errno(SYNTHETIC_ERRNO(e), "%s/%s: %s: HTTP %ld%s%s.", r->ref.registry, r->ref.repository,
                               what, resp->status, text ? ": " : "", text ?: "");
}

int registry_get_manifest(Registry *r, const char *reference, const char *expect_digest, int64_t expect_size,
                          char **ret_body, size_t *ret_len, char **ret_media_type, char **ret_digest) {
        if (expect_size > (int64_t) REGISTRY_MANIFEST_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(EFBIG), "%s: manifest %s is %" PRIi64 " bytes, more than %u.",
                                       r->ref.registry, expect_digest, expect_size, REGISTRY_MANIFEST_MAX);
        _cleanup_free_ char *path = xasprintf("%s/manifests/%s", r->ref.repository, reference);
        _cleanup_free_ char *what = xasprintf("manifest %s", reference);
        Sink sink = { .fd = -EBADF,
                      .max = REGISTRY_MANIFEST_MAX,
                      .expect = expect_size >= 0 ? (uint64_t) expect_size : UINT64_MAX };
        _cleanup_(response_done) Response resp = {};
        int k = get(r, path, ACCEPT_MANIFESTS, &sink, &resp);
        _cleanup_free_ char *body = sink.buf;
        if (k == -EFBIG)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: %s is larger than %s.", r->ref.registry, what,
                                       expect_size >= 0 ? "its descriptor says" : "a manifest may be (4 MiB)");
        if (k == -EMSGSIZE)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "%s: %s: size mismatch: its descriptor says %" PRIi64
                                       " bytes, the registry announces %" PRIu64 ".",
                                       r->ref.registry, what, expect_size, sink.announced);
        if (k == -EIO)
                return log_error_errno(k, "%s: cannot fetch %s: %s", r->ref.registry, what, r->curl_error);
        if (k == -EPROTO)
                return log_error_errno(k, "%s: %s: a broken answer.", r->ref.registry, what);
        if (k < 0)
                return k;
        if (resp.status != 200)
                return status_error(r, &resp, what);
        if (!body)
                body = xstrdup("");
        DigestAlgorithm alg = DIGEST_SHA256;
        if (expect_digest)
                (void) digest_parse(expect_digest, &alg, NULL);
        char got[DIGEST_STRING_MAX];
        digest_buffer(alg, body, sink.received, got);
        if (expect_digest && !streq(got, expect_digest))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: %s: digest mismatch: the registry sent %s.",
                                       r->ref.registry, what, got);
        if (expect_size >= 0 && sink.received != (uint64_t) expect_size)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "%s: %s: size mismatch: its descriptor says %" PRIi64 " bytes, the registry "
                                       "sent %" PRIu64 ".",
                                       r->ref.registry, what, expect_size, sink.received);
        if (!expect_digest && resp.docker_digest && image_digest_valid(resp.docker_digest) &&
            startswith(resp.docker_digest, "sha256:") && !streq(resp.docker_digest, got))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "%s: %s: digest mismatch: the registry says %s, the body is %s.",
                                       r->ref.registry, what, resp.docker_digest, got);
        /* "type; charset=..." -> "type" */
        char *mt = resp.content_type ? strndup(resp.content_type, strcspn(resp.content_type, "; ")) : NULL;
        *ret_body = TAKE_PTR(body);
        *ret_len = sink.received;
        *ret_media_type = mt;
        *ret_digest = xstrdup(got);
        return 0;
}

int registry_get_blob(Registry *r, const char *digest, uint64_t size, int fd, const char *label) {
        DigestAlgorithm alg;
        if (digest_parse(digest, &alg, NULL) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s: malformed digest.", label);
        _cleanup_free_ char *path = xasprintf("%s/blobs/%s", r->ref.repository, digest);
        _cleanup_(digest_freep) Digest *d = digest_new(alg);
        Sink sink = { .fd = fd, .digest = d, .alg = alg, .expect = size, .label = r->o.progress ? label : NULL };
        int k = 0;
        char why[CURL_ERROR_SIZE + 64] = "";
        for (unsigned attempt = 0;; attempt++) {
                _cleanup_(response_done) Response resp = {};
                k = get(r, path, NULL, &sink, &resp);
                d = sink.digest; /* sink_begin may have started over */
                if (k == 0 && (resp.status == 200 || resp.status == 206)) {
                        if (sink.received == size)
                                break;
                        k = -EIO; /* the body ended early: resume */
                        snprintf(why, sizeof why, "the body ended early");
                } else if (k == 0) {
                        k = status_error(r, &resp, label);
                        if (k != -EAGAIN)
                                break;
                        snprintf(why, sizeof why, "HTTP %ld", resp.status);
                } else if (k == -EIO)
                        snprintf(why, sizeof why, "%s", r->curl_error);
                else if (k == -EPROTO)
                        snprintf(why, sizeof why, "a broken partial answer");
                else
                        break; /* logged, or the size check's verdict */
                if (attempt + 1 >= REGISTRY_RETRIES) {
                        k = -EIO;
                        break;
                }
                if (k == -EPROTO) {
                        /* A bad partial answer: start over rather than trust it. */
                        if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                                return log_error_errno(errno, "%s: cannot start over: %m", label);
                        digest_free(sink.digest);
                        sink.digest = d = digest_new(alg);
                        sink.received = 0;
                }
                log_info("%s: interrupted after %" PRIu64 " of %" PRIu64 " bytes (%s); %s.", label, sink.received,
                         size, why, sink.received > 0 ? "resuming" : "trying again");
                sleep(1u << attempt);
        }
        if (sink.label && sink.received > 0)
                show_progress(&sink, true);
        if (k == -EFBIG)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "%s %s: the registry sent more than the %" PRIu64
                                       " bytes its descriptor says.",
                                       label, digest, size);
        if (k == -EMSGSIZE)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "%s %s: size mismatch: its descriptor says %" PRIu64
                                       " bytes, the registry announces %" PRIu64 ".",
                                       label, digest, size, sink.announced);
        if (k == -EIO)
                return log_error_errno(k, "%s %s: download failed after %u attempts: %s", label, digest,
                                       REGISTRY_RETRIES, why);
        if (k < 0)
                return k; /* logged */
        char got[DIGEST_STRING_MAX];
        digest_finish(d, got);
        if (!streq(got, digest))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "%s %s: digest mismatch: the registry sent %s.",
                                       label, digest, got);
        return 0;
}
