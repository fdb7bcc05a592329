/*
 * Batch SHA-256 for the record Merkle tree (audit/merkle.py), through OpenSSL's libcrypto.
 *
 * Why this exists: a delivered batch needs one SHA-256 per record and one per tree node.
 * From Python that is two million hashlib calls per million records, each holding the
 * GIL (hashlib releases it only for inputs of 2 KiB and more), about 0.7 s of a delivery
 * that otherwise runs at 400-600 k rows/s. This module makes the same OpenSSL calls in a
 * loop over an Arrow binary array's buffers with the GIL released. It computes nothing
 * audit/merkle.py does not also compute in pure Python: that path stays, is used where
 * this module was not built, and the tests check both give the same bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
/* The one-shot SHA256_* calls are deprecated in OpenSSL 3 in favour of EVP, but EVP_DigestInit
 * costs a provider lookup per hash (0.4 us, as much as the hash itself on SHA-NI CPUs). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>

#define DIGEST 32

/* One SHA-256 of prefix || data into out. */
static int hash_into(SHA256_CTX *ctx, const unsigned char *prefix, size_t plen,
                     const unsigned char *data, size_t len, unsigned char *out) {
    if (SHA256_Init(ctx) != 1) return 0;
    if (plen && SHA256_Update(ctx, prefix, plen) != 1) return 0;
    if (len && SHA256_Update(ctx, data, len) != 1) return 0;
    return SHA256_Final(out, ctx) == 1;
}

/* NULL if count + 1 offsets increase and stay inside a data buffer of `len` bytes, else why not. */
static const char *offsets_problem(const int64_t *off, Py_ssize_t count, Py_ssize_t len) {
    if (off[0] < 0 || off[count] > len) return "offsets point outside their data buffer";
    for (Py_ssize_t i = 0; i < count; i++)
        if (off[i] > off[i + 1]) return "offsets are not increasing";
    return NULL;
}

/* Digits of v (v >= 0) written backwards from `end`; returns the new start. */
static char *digits_back(char *end, uint64_t v) {
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

/* Decimal digits of a non-negative length. */
static size_t length_digits(uint64_t v) {
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* One column of a record_hashes call: an Arrow large_binary array's buffers. */
typedef struct {
    Py_buffer data, offsets, validity;
    int has_validity;
    Py_ssize_t bit_offset;
} Column;

static int is_null(const Column *c, Py_ssize_t i) {
    if (!c->has_validity) return 0;
    Py_ssize_t bit = c->bit_offset + i;
    return !((((const unsigned char *)c->validity.buf)[bit >> 3] >> (bit & 7)) & 1);
}

static void release_columns(Column *cols, Py_ssize_t got) {
    for (Py_ssize_t j = 0; j < got; j++) {
        PyBuffer_Release(&cols[j].data);
        PyBuffer_Release(&cols[j].offsets);
        if (cols[j].has_validity) PyBuffer_Release(&cols[j].validity);
    }
}

/*
 * record_hashes(prefix, columns, count) -> bytes of 32 * count: audit/merkle.py's leaf
 * hashes. `columns` is a sequence of (data, offsets, validity, bit_offset), one per Arrow
 * large_binary array of `count` values: `offsets` holds count + 1 int64 positions into
 * `data` (already sliced to the array's offset), `validity` is its validity bitmap (None
 * when no value is null) read from bit `bit_offset`. Hash i is SHA-256(prefix || field_1 ||
 * field_2 || ...) where a field is `~` for a null and `<decimal byte length>:<bytes>`
 * otherwise: the canonical record merkle.canonical_records builds with pyarrow, without
 * building it (nor the length prefixes, nor the filled nulls).
 */
static PyObject *record_hashes(PyObject *self, PyObject *args) {
    Py_buffer prefix;
    PyObject *columns, *seq = NULL, *result = NULL;
    Py_ssize_t count, k = 0, got = 0;
    Column *cols = NULL;
    unsigned char *scratch = NULL;
    if (!PyArg_ParseTuple(args, "y*On", &prefix, &columns, &count)) return NULL;
    seq = PySequence_Fast(columns, "columns must be a sequence of (data, offsets, validity, bit_offset)");
    if (seq == NULL) goto done;
    k = PySequence_Fast_GET_SIZE(seq);
    cols = PyMem_Calloc((size_t)k + 1, sizeof(Column));
    if (cols == NULL) { PyErr_NoMemory(); goto done; }
    if (count < 0) { PyErr_SetString(PyExc_ValueError, "count must not be negative"); goto done; }
    for (; got < k; got++) {
        Column *c = &cols[got];
        PyObject *validity;
        PyObject *item = PySequence_Fast_GET_ITEM(seq, got);
        if (!PyArg_ParseTuple(item, "y*y*On", &c->data, &c->offsets, &validity, &c->bit_offset)) goto done;
        if (validity != Py_None) {
            if (PyObject_GetBuffer(validity, &c->validity, PyBUF_SIMPLE) != 0) {
                PyBuffer_Release(&c->data);
                PyBuffer_Release(&c->offsets);
                goto done;
            }
            c->has_validity = 1;
        }
        const char *bad = NULL;
        if (c->offsets.len < (Py_ssize_t)((count + 1) * sizeof(int64_t)))
            bad = "an offsets buffer is shorter than count + 1 int64 values";
        else if (c->has_validity && (c->bit_offset < 0 || c->validity.len < (c->bit_offset + count + 7) / 8))
            bad = "a validity bitmap is shorter than its values";
        if (bad != NULL) {
            got++;
            PyErr_SetString(PyExc_ValueError, bad);
            goto done;
        }
    }
    result = PyBytes_FromStringAndSize(NULL, count * DIGEST);
    if (result == NULL) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const char *problem = NULL;
    PyObject *kind = PyExc_ValueError; /* bad offsets; memory and OpenSSL set their own */
    SHA256_CTX ctx;
    Py_BEGIN_ALLOW_THREADS
    /* Check every column's offsets (increasing, inside its data), then size the scratch row. */
    int64_t *rows = count ? PyMem_RawCalloc((size_t)count, sizeof(int64_t)) : NULL;
    if (count && rows == NULL) {
        problem = "out of memory for the row lengths";
        kind = PyExc_MemoryError;
    }
    for (Py_ssize_t j = 0; j < k && problem == NULL; j++) {
        const int64_t *off = (const int64_t *)cols[j].offsets.buf;
        problem = offsets_problem(off, count, cols[j].data.len);
        for (Py_ssize_t i = 0; i < count && problem == NULL; i++) {
            int64_t len = off[i + 1] - off[i];
            rows[i] += is_null(&cols[j], i) ? 1 : len + (int64_t)length_digits((uint64_t)len) + 1;
        }
    }
    int64_t longest = 0;
    for (Py_ssize_t i = 0; i < count && problem == NULL; i++)
        if (rows[i] > longest) longest = rows[i];
    PyMem_RawFree(rows);
    if (problem == NULL) {
        scratch = PyMem_RawMalloc((size_t)longest + (size_t)prefix.len + 1);
        if (scratch == NULL) {
            problem = "out of memory for one row";
            kind = PyExc_MemoryError;
        }
    }
    if (problem == NULL) memcpy(scratch, prefix.buf, (size_t)prefix.len);
    for (Py_ssize_t i = 0; i < count && problem == NULL; i++) {
        size_t pos = (size_t)prefix.len;
        for (Py_ssize_t j = 0; j < k; j++) {
            if (is_null(&cols[j], i)) {
                scratch[pos++] = '~';
                continue;
            }
            const int64_t *off = (const int64_t *)cols[j].offsets.buf;
            size_t len = (size_t)(off[i + 1] - off[i]);
            size_t digits = length_digits(len);
            digits_back((char *)scratch + pos + digits, len);
            pos += digits;
            scratch[pos++] = ':';
            memcpy(scratch + pos, (const unsigned char *)cols[j].data.buf + off[i], len);
            pos += len;
        }
        if (!hash_into(&ctx, NULL, 0, scratch, pos, out + i * DIGEST)) {
            problem = "OpenSSL SHA-256 failed";
            kind = PyExc_RuntimeError;
        }
    }
    Py_END_ALLOW_THREADS
    if (problem != NULL) {
        Py_CLEAR(result);
        PyErr_SetString(kind, problem);
    }
done:
    PyMem_RawFree(scratch);
    if (cols != NULL) release_columns(cols, got);
    PyMem_Free(cols);
    Py_XDECREF(seq);
    PyBuffer_Release(&prefix);
    return result;
}

/*
 * hmac_rows(key, data, offsets, count) -> bytes of 32 * count: HMAC-SHA256 (RFC 2104) under
 * `key` of each value data[offsets[i]:offsets[i + 1]] (an Arrow large_binary array's
 * buffers, as for row_hashes). The keyed inner and outer states are computed once and
 * copied per value, as consent/protect/pseudonyms.py does with hashlib; the tests check every
 * result against Python's hmac.digest.
 */
static PyObject *hmac_rows(PyObject *self, PyObject *args) {
    Py_buffer key, data, offsets;
    Py_ssize_t count;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*n", &key, &data, &offsets, &count)) return NULL;
    const char *problem = NULL;
    PyObject *kind = PyExc_ValueError;
    if (count < 0 || offsets.len < (Py_ssize_t)((count + 1) * sizeof(int64_t))) {
        PyErr_SetString(PyExc_ValueError, "offsets buffer is shorter than count + 1 int64 values");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, count * DIGEST);
    if (result == NULL) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const int64_t *off = (const int64_t *)offsets.buf;
    const unsigned char *base = (const unsigned char *)data.buf;
    Py_BEGIN_ALLOW_THREADS
    unsigned char padded[SHA256_CBLOCK], pad[SHA256_CBLOCK], inner_digest[DIGEST];
    SHA256_CTX inner0, outer0, ctx;
    memset(padded, 0, sizeof padded);
    if (key.len > SHA256_CBLOCK) {
        if (!hash_into(&ctx, NULL, 0, key.buf, (size_t)key.len, padded)) problem = "OpenSSL SHA-256 failed";
    } else {
        memcpy(padded, key.buf, (size_t)key.len);
    }
    for (int b = 0; b < SHA256_CBLOCK; b++) pad[b] = padded[b] ^ 0x36;
    if (SHA256_Init(&inner0) != 1 || SHA256_Update(&inner0, pad, SHA256_CBLOCK) != 1) problem = "OpenSSL SHA-256 failed";
    for (int b = 0; b < SHA256_CBLOCK; b++) pad[b] = padded[b] ^ 0x5c;
    if (SHA256_Init(&outer0) != 1 || SHA256_Update(&outer0, pad, SHA256_CBLOCK) != 1) problem = "OpenSSL SHA-256 failed";
    if (problem) kind = PyExc_RuntimeError;
    if (problem == NULL) problem = offsets_problem(off, count, data.len);
    for (Py_ssize_t i = 0; i < count && problem == NULL; i++) {
        ctx = inner0;
        if (SHA256_Update(&ctx, base + off[i], (size_t)(off[i + 1] - off[i])) != 1 ||
            SHA256_Final(inner_digest, &ctx) != 1) {
            problem = "OpenSSL SHA-256 failed";
            kind = PyExc_RuntimeError;
            break;
        }
        ctx = outer0;
        if (SHA256_Update(&ctx, inner_digest, DIGEST) != 1 || SHA256_Final(out + i * DIGEST, &ctx) != 1) {
            problem = "OpenSSL SHA-256 failed";
            kind = PyExc_RuntimeError;
        }
    }
    OPENSSL_cleanse(padded, sizeof padded);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(&inner0, sizeof inner0);
    OPENSSL_cleanse(&outer0, sizeof outer0);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    Py_END_ALLOW_THREADS
    if (problem != NULL) {
        Py_CLEAR(result);
        PyErr_SetString(kind, problem);
    }
done:
    PyBuffer_Release(&key);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    return result;
}

/*
 * tree_root(leaves) -> 32 bytes: the RFC 6962 Merkle tree hash over 32-byte leaf hashes
 * (node = SHA-256(0x01 || left || right)), built bottom-up; an odd last node is promoted,
 * which gives the same tree as RFC 6962's largest-power-of-two split. Empty input is an
 * error: the caller defines the empty tree.
 */
static PyObject *tree_root(PyObject *self, PyObject *args) {
    Py_buffer leaves;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*", &leaves)) return NULL;
    if (leaves.len == 0 || leaves.len % DIGEST) {
        PyErr_SetString(PyExc_ValueError, "leaves must be a non-empty run of 32-byte hashes");
        PyBuffer_Release(&leaves);
        return NULL;
    }
    Py_ssize_t n = leaves.len / DIGEST;
    unsigned char *level = PyMem_RawMalloc((size_t)leaves.len);
    if (level == NULL) {
        PyBuffer_Release(&leaves);
        return PyErr_NoMemory();
    }
    memcpy(level, leaves.buf, (size_t)leaves.len);
    static const unsigned char node_prefix = 0x01;
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    SHA256_CTX ctx;
    while (ok && n > 1) {
        Py_ssize_t pairs = n / 2;
        for (Py_ssize_t i = 0; ok && i < pairs; i++)
            ok = hash_into(&ctx, &node_prefix, 1, level + 2 * i * DIGEST, 2 * DIGEST, level + i * DIGEST);
        if (n % 2) memmove(level + pairs * DIGEST, level + (n - 1) * DIGEST, DIGEST);
        n = pairs + n % 2;
    }
    Py_END_ALLOW_THREADS
    if (ok)
        result = PyBytes_FromStringAndSize((const char *)level, DIGEST);
    else
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL SHA-256 failed");
    PyMem_RawFree(level);
    PyBuffer_Release(&leaves);
    return result;
}

/*
 * The text forms of audit/merkle.py's canonical record bytes, written straight from Arrow's
 * fixed-width value buffers instead of through pyarrow's cast to string (5-10x the cost).
 * They write exactly the bytes that cast writes, for the values they accept; the caller
 * (merkle.py) sends only those and tests/audit/test_merkle_text.py compares the two on
 * every delivered type. Null slots are formatted too (their bytes are whatever the buffer
 * holds); the caller masks them with the array's validity.
 */

/*
 * int_text(values, count, scale) -> (data bytes, offsets bytes): int64 values as decimal
 * text, with `scale` (0..6) fraction digits the way pyarrow writes a decimal128 of that
 * scale whose unscaled value is the int64 ("-0.05" for -5 at scale 2; "7" at scale 0).
 * The offsets are count + 1 int64 positions into the data (an Arrow large_binary array).
 */
static PyObject *int_text(PyObject *self, PyObject *args) {
    Py_buffer values;
    Py_ssize_t count;
    int scale;
    PyObject *data = NULL, *offsets = NULL, *result = NULL;
    if (!PyArg_ParseTuple(args, "y*ni", &values, &count, &scale)) return NULL;
    if (count < 0 || values.len < (Py_ssize_t)(count * sizeof(int64_t)) || scale < 0 || scale > 6) {
        PyErr_SetString(PyExc_ValueError, "int_text needs count int64 values and a scale of 0..6");
        goto done;
    }
    Py_ssize_t widest = 20 + 1 + 1 + scale; /* sign, 19 digits (+1 spare), point, fraction */
    data = PyBytes_FromStringAndSize(NULL, count * widest);
    offsets = PyBytes_FromStringAndSize(NULL, (count + 1) * (Py_ssize_t)sizeof(int64_t));
    if (data == NULL || offsets == NULL) goto done;
    char *out = PyBytes_AS_STRING(data);
    int64_t *off = (int64_t *)PyBytes_AS_STRING(offsets);
    const int64_t *in = (const int64_t *)values.buf;
    int64_t at = 0;
    Py_BEGIN_ALLOW_THREADS
    uint64_t unit = 1;
    for (int k = 0; k < scale; k++) unit *= 10;
    char tmp[32];
    off[0] = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        int64_t v = in[i];
        uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        char *end = tmp + sizeof tmp, *start = end;
        if (scale) {
            uint64_t frac = mag % unit;
            for (int k = 0; k < scale; k++) {
                *--start = (char)('0' + frac % 10);
                frac /= 10;
            }
            *--start = '.';
            start = digits_back(start, mag / unit);
        } else {
            start = digits_back(start, mag);
        }
        if (v < 0) *--start = '-';
        size_t len = (size_t)(end - start);
        memcpy(out + at, start, len);
        at += (int64_t)len;
        off[i + 1] = at;
    }
    Py_END_ALLOW_THREADS
    if (_PyBytes_Resize(&data, (Py_ssize_t)at) < 0) goto done;
    result = Py_BuildValue("(OO)", data, offsets);
done:
    Py_XDECREF(data);
    Py_XDECREF(offsets);
    PyBuffer_Release(&values);
    return result;
}

/* Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put2(char *at, unsigned v) {
    at[0] = (char)('0' + v / 10);
    at[1] = (char)('0' + v % 10);
}

/* Write `count` fixed-width instants (or dates); 1 when one lies outside the years 1..9999. */
static inline __attribute__((always_inline)) int format_times(const void *buf, Py_ssize_t count, char *out,
                                                              Py_ssize_t width, int64_t per_second,
                                                              int digits, int date_only) {
    int64_t last_days = INT64_MIN;
    char date[10];
    for (Py_ssize_t i = 0; i < count; i++) {
        int64_t days;
        uint32_t secs = 0;
        uint64_t frac = 0;
        if (date_only) {
            days = ((const int32_t *)buf)[i];
        } else {
            int64_t v = ((const int64_t *)buf)[i];
            int64_t whole = v / per_second, rest = v % per_second;
            if (rest < 0) { rest += per_second; whole -= 1; }
            frac = (uint64_t)rest;
            days = whole / 86400;
            int64_t sod = whole % 86400;
            if (sod < 0) { sod += 86400; days -= 1; }
            secs = (uint32_t)sod;
        }
        char *at = out + i * width;
        if (days != last_days) { /* rows of a batch often share a day: its text is reused */
            int64_t y;
            unsigned m, d;
            civil_from_days(days, &y, &m, &d);
            if (y < 1 || y > 9999) return 1;
            put2(date, (unsigned)(y / 100));
            put2(date + 2, (unsigned)(y % 100));
            date[4] = '-';
            put2(date + 5, m);
            date[7] = '-';
            put2(date + 8, d);
            last_days = days;
        }
        memcpy(at, date, 10);
        if (date_only) continue;
        at[10] = ' ';
        put2(at + 11, secs / 3600);
        at[13] = ':';
        put2(at + 14, secs / 60 % 60);
        at[16] = ':';
        put2(at + 17, secs % 60);
        if (digits) {
            at[19] = '.';
            for (int k = digits; k > 0; k--) {
                at[19 + k] = (char)('0' + frac % 10);
                frac /= 10;
            }
        }
    }
    return 0;
}

/*
 * time_text(values, count, digits, date_only) -> bytes, or None: fixed-width text of int64
 * instants since the epoch with `digits` (0, 3, 6, 9) fraction digits per second, as
 * pyarrow casts a timezone-less timestamp ("YYYY-MM-DD HH:MM:SS[.fff…]"); with date_only,
 * values are days since the epoch written "YYYY-MM-DD" (a date32). Every value's width
 * is the same (19 + 1 + digits, or 10), so no offsets are returned. None when a value
 * falls outside the years 1..9999 (pyarrow's cast then writes it).
 */
static PyObject *time_text(PyObject *self, PyObject *args) {
    Py_buffer values;
    Py_ssize_t count;
    int digits, date_only;
    PyObject *data = NULL;
    if (!PyArg_ParseTuple(args, "y*nip", &values, &count, &digits, &date_only)) return NULL;
    Py_ssize_t item = date_only ? (Py_ssize_t)sizeof(int32_t) : (Py_ssize_t)sizeof(int64_t);
    if (count < 0 || values.len < count * item || (digits != 0 && digits != 3 && digits != 6 && digits != 9)) {
        PyErr_SetString(PyExc_ValueError, "time_text needs count values and 0, 3, 6 or 9 digits");
        goto done;
    }
    Py_ssize_t width = date_only ? 10 : 19 + (digits ? 1 + digits : 0);
    data = PyBytes_FromStringAndSize(NULL, count * width);
    if (data == NULL) goto done;
    char *out = PyBytes_AS_STRING(data);
    int outside = 0;
    Py_BEGIN_ALLOW_THREADS
    /* Literal divisors per unit, so the compiler turns each division into a multiplication. */
    switch (date_only ? -1 : digits) {
    case -1: outside = format_times(values.buf, count, out, width, 1, 0, 1); break;
    case 0: outside = format_times(values.buf, count, out, width, 1, 0, 0); break;
    case 3: outside = format_times(values.buf, count, out, width, 1000, 3, 0); break;
    case 6: outside = format_times(values.buf, count, out, width, 1000000, 6, 0); break;
    default: outside = format_times(values.buf, count, out, width, 1000000000, 9, 0); break;
    }
    Py_END_ALLOW_THREADS
    if (outside) {
        Py_CLEAR(data);
        Py_INCREF(Py_None);
        data = Py_None;
    }
done:
    PyBuffer_Release(&values);
    return data;
}

static PyMethodDef methods[] = {
    {"record_hashes", record_hashes, METH_VARARGS,
     "SHA-256 of prefix + each row's fields (`~` or `<length>:<bytes>`) of (data, offsets, validity, bit_offset) columns."},
    {"hmac_rows", hmac_rows, METH_VARARGS,
     "HMAC-SHA256 under key of each value of a binary array given as (data, offsets)."},
    {"tree_root", tree_root, METH_VARARGS,
     "RFC 6962 Merkle tree hash over concatenated 32-byte leaf hashes (GIL released)."},
    {"int_text", int_text, METH_VARARGS,
     "int64 values as decimal text with 0..6 fraction digits: (data, offsets) of a large_binary."},
    {"time_text", time_text, METH_VARARGS,
     "Fixed-width text of timestamps (or date32 days) as pyarrow casts them; None outside 1..9999."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sha256_batch",
                                    "Batch SHA-256 through OpenSSL for audit.merkle.", -1, methods};

PyMODINIT_FUNC PyInit__sha256_batch(void) { return PyModule_Create(&module); }
