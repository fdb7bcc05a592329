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

/*
 * row_hashes(prefix, columns, count) -> bytes of 32 * count.
 * `columns` is a sequence of (data, offsets) pairs, one per Arrow large_binary array of
 * `count` values without nulls: `offsets` holds count + 1 int64 positions into `data` (the
 * array's offsets buffer, already sliced to its offset). Hash i is
 * SHA-256(prefix || column_1[i] || column_2[i] || ...): the row-wise concatenation the
 * caller would otherwise build with pyarrow's binary_join_element_wise, without building it.
 */
static PyObject *row_hashes(PyObject *self, PyObject *args) {
    Py_buffer prefix;
    PyObject *columns, *seq = NULL, *result = NULL;
    Py_ssize_t count, k = 0, got = 0;
    Py_buffer *bufs = NULL;
    unsigned char *scratch = NULL;
    if (!PyArg_ParseTuple(args, "y*On", &prefix, &columns, &count)) return NULL;
    seq = PySequence_Fast(columns, "columns must be a sequence of (data, offsets) pairs");
    if (seq == NULL) goto done;
    k = PySequence_Fast_GET_SIZE(seq);
    bufs = PyMem_Calloc((size_t)(2 * k + 1), sizeof(Py_buffer));
    if (bufs == NULL) { PyErr_NoMemory(); goto done; }
    if (count < 0) { PyErr_SetString(PyExc_ValueError, "count must not be negative"); goto done; }
    for (; got < k; got++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, got);
        if (!PyArg_ParseTuple(pair, "y*y*", &bufs[2 * got], &bufs[2 * got + 1])) goto done;
        if (bufs[2 * got + 1].len < (Py_ssize_t)((count + 1) * sizeof(int64_t))) {
            PyBuffer_Release(&bufs[2 * got]);
            PyBuffer_Release(&bufs[2 * got + 1]);
            PyErr_SetString(PyExc_ValueError, "an offsets buffer is shorter than count + 1 int64 values");
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
    int64_t longest = (int64_t)prefix.len;
    int64_t *rows = count ? PyMem_RawCalloc((size_t)count, sizeof(int64_t)) : NULL;
    if (count && rows == NULL) {
        problem = "out of memory for the row lengths";
        kind = PyExc_MemoryError;
    }
    for (Py_ssize_t j = 0; j < k && problem == NULL; j++) {
        const int64_t *off = (const int64_t *)bufs[2 * j + 1].buf;
        problem = offsets_problem(off, count, bufs[2 * j].len);
        for (Py_ssize_t i = 0; i < count && problem == NULL; i++) rows[i] += off[i + 1] - off[i];
    }
    for (Py_ssize_t i = 0; i < count && problem == NULL; i++)
        if (rows[i] + (int64_t)prefix.len > longest) longest = rows[i] + (int64_t)prefix.len;
    PyMem_RawFree(rows);
    if (problem == NULL) {
        scratch = PyMem_RawMalloc((size_t)longest + 1);
        if (scratch == NULL) {
            problem = "out of memory for one row";
            kind = PyExc_MemoryError;
        }
    }
    if (problem == NULL) memcpy(scratch, prefix.buf, (size_t)prefix.len);
    for (Py_ssize_t i = 0; i < count && problem == NULL; i++) {
        size_t pos = (size_t)prefix.len;
        for (Py_ssize_t j = 0; j < k; j++) {
            const int64_t *off = (const int64_t *)bufs[2 * j + 1].buf;
            size_t len = (size_t)(off[i + 1] - off[i]);
            memcpy(scratch + pos, (const unsigned char *)bufs[2 * j].buf + off[i], len);
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
    for (Py_ssize_t j = 0; j < got; j++) {
        PyBuffer_Release(&bufs[2 * j]);
        PyBuffer_Release(&bufs[2 * j + 1]);
    }
    PyMem_Free(bufs);
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

static PyMethodDef methods[] = {
    {"row_hashes", row_hashes, METH_VARARGS,
     "SHA-256 of prefix + each row of binary columns given as (data, offsets), concatenated."},
    {"hmac_rows", hmac_rows, METH_VARARGS,
     "HMAC-SHA256 under key of each value of a binary array given as (data, offsets)."},
    {"tree_root", tree_root, METH_VARARGS,
     "RFC 6962 Merkle tree hash over concatenated 32-byte leaf hashes (GIL released)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sha256_batch",
                                    "Batch SHA-256 through OpenSSL for audit.merkle.", -1, methods};

PyMODINIT_FUNC PyInit__sha256_batch(void) { return PyModule_Create(&module); }
