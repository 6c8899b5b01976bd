/* User audio appends of the usual shape, read and turned into event lines in C.

   Three quarters of a recording's lines are `input_audio_buffer.append`s from the app, and
   in Python each costs about 3.8 µs to recognise and write out, nearly all of it the
   interpreter's own overhead per line. This module does the same for a whole run of such
   lines in one call. It is optional: without it (no compiler at install time, or
   RTLENS_PURE_PYTHON=1) the reader and normalizer take the Python path, and the tests
   check that both give the same records and the same event lines.

   What is "the usual shape" is defined by the Python reader (`_APPEND_HEAD`, `_APPEND_TAIL`
   and `_append_line` in reader.py): this file follows those patterns byte for byte, and
   refuses (leaves to Python) every line they would refuse.

   scan(block, pos, end) -> None | (next_pos, ts_us, event_ids, where, decoded, total)
       The appends of the usual shape from `pos` on, one per line, stopping at the first
       line that is not one or past `end` (the index of a newline in `block`). Lists, one
       item per append: ts_us (int), event_ids (str or None), where (0-3: which template
       of the event's JSON, see `_APPEND_RAW`), decoded (int, audio bytes); total is the
       sum of decoded. None when the line at `pos` is not such an append.

   lines(out, run, line_no, file_index, seq, first_us, pieces, raws, client_types, kind)
       Appends one event line per append of `run` (as `scan` returned it) to the list
       `out`: `pieces` are the 9 constant parts of the event-line format around its 8
       values (file_index, seq, line_no, ts_us, t_us, decoded, event_id, raw), `raws` the
       4 templates of the raw JSON as (before id, after id) pairs. Each event id is also
       recorded in the dict `client_types` as `kind`. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_ID 128

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* [\w.:\-] of a bytes pattern: ASCII letters, digits, underscore, dot, colon, hyphen. */
static int
is_id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
           c == '.' || c == ':' || c == '-';
}

/* The literal `lit` (length n) at *p: advance past it. */
static int
literal(const char *s, Py_ssize_t *p, Py_ssize_t end, const char *lit, Py_ssize_t n)
{
    if (end - *p < n || memcmp(s + *p, lit, (size_t)n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* [ ]? */
static void
space(const char *s, Py_ssize_t *p, Py_ssize_t end)
{
    if (*p < end && s[*p] == ' ')
        (*p)++;
}

/* "event_id":[ ]?"([\w.:\-]{0,128})" at *p: the id's start and length. */
static int
event_id(const char *s, Py_ssize_t *p, Py_ssize_t end, Py_ssize_t *id, Py_ssize_t *id_len)
{
    Py_ssize_t q = *p, start;
    if (!literal(s, &q, end, "\"event_id\":", 11))
        return 0;
    space(s, &q, end);
    if (!literal(s, &q, end, "\"", 1))
        return 0;
    start = q;
    while (q < end && q - start <= MAX_ID && is_id_char((unsigned char)s[q]))
        q++;
    if (q - start > MAX_ID || !literal(s, &q, end, "\"", 1))
        return 0;
    *id = start;
    *id_len = q - 1 - start;
    *p = q;
    return 1;
}

/* (?:"event_id":[ ]?"(id)",[ ]?)? : 1 if present (the id found), 0 if not (nothing
   consumed). */
static int
id_before(const char *s, Py_ssize_t *p, Py_ssize_t end, Py_ssize_t *id, Py_ssize_t *id_len)
{
    Py_ssize_t q = *p;
    if (!event_id(s, &q, end, id, id_len) || !literal(s, &q, end, ",", 1))
        return 0;
    space(s, &q, end);
    *p = q;
    return 1;
}

typedef struct {
    int64_t ts_us;
    Py_ssize_t id, id_len; /* id_len < 0: no event id */
    int where;
    int64_t decoded;
} Append;

static const char TYPE_KEY[] = "\"type\":";
static const char TYPE_VALUE[] = "\"input_audio_buffer.append\",";
static const char DIR_EVENT[] = ",\"dir\":\"client\",\"event\":{";

/* One line s[pos:nl] (without its newline): 1 and *out if it is an append of the usual
   shape, else 0. */
static int
match_append(const char *s, Py_ssize_t pos, Py_ssize_t nl, Append *out)
{
    Py_ssize_t p = pos, digits, first, audio, quote, q;
    Py_ssize_t ids[3], lens[3];
    int present[3] = {0, 0, 0}, n_ids, where = 0, i;
    int64_t seconds = 0, micros = 0, decoded;

    /* \{"ts":((?:0|[1-9][0-9]{0,8}|[1-3][0-9]{9})\.[0-9]{6}),"dir":"client","event":\{ */
    if (!literal(s, &p, nl, "{\"ts\":", 6))
        return 0;
    first = p;
    while (p < nl && is_digit((unsigned char)s[p]) && p - first <= 10)
        p++;
    digits = p - first;
    if (!(digits == 1 || (digits >= 2 && digits <= 9 && s[first] != '0') ||
          (digits == 10 && s[first] >= '1' && s[first] <= '3')))
        return 0;
    for (q = first; q < p; q++)
        seconds = seconds * 10 + (s[q] - '0');
    if (!literal(s, &p, nl, ".", 1) || nl - p < 6)
        return 0;
    for (i = 0; i < 6; i++, p++) {
        if (!is_digit((unsigned char)s[p]))
            return 0;
        micros = micros * 10 + (s[p] - '0');
    }
    if (!literal(s, &p, nl, DIR_EVENT, (Py_ssize_t)sizeof(DIR_EVENT) - 1))
        return 0;
    /* <id>?"type":[ ]?"input_audio_buffer.append",[ ]?<id>?"audio":[ ]?" */
    present[0] = id_before(s, &p, nl, &ids[0], &lens[0]);
    if (!literal(s, &p, nl, TYPE_KEY, (Py_ssize_t)sizeof(TYPE_KEY) - 1))
        return 0;
    space(s, &p, nl);
    if (!literal(s, &p, nl, TYPE_VALUE, (Py_ssize_t)sizeof(TYPE_VALUE) - 1))
        return 0;
    space(s, &p, nl);
    present[1] = id_before(s, &p, nl, &ids[1], &lens[1]);
    if (!literal(s, &p, nl, "\"audio\":", 8))
        return 0;
    space(s, &p, nl);
    if (!literal(s, &p, nl, "\"", 1))
        return 0;
    /* The audio: up to the next quote, with no backslash before it. */
    audio = p;
    {
        const char *end_quote = memchr(s + audio, '"', (size_t)(nl - audio));
        if (end_quote == NULL)
            return 0;
        quote = end_quote - s;
    }
    if (memchr(s + audio, '\\', (size_t)(quote - audio)) != NULL)
        return 0;
    /* "(?:,[ ]?"event_id":[ ]?"(id)")?\}\}\r? up to the end of the line */
    q = quote + 1;
    if (literal(s, &q, nl, ",", 1)) {
        space(s, &q, nl);
        if (!event_id(s, &q, nl, &ids[2], &lens[2]))
            return 0;
        present[2] = 1;
    }
    if (!literal(s, &q, nl, "}}", 2))
        return 0;
    if (q < nl && s[q] == '\r')
        q++;
    if (q != nl)
        return 0;
    n_ids = present[0] + present[1] + present[2];
    if (n_ids > 1)
        return 0; /* a repeated key: the JSON parser decides */
    out->id_len = -1;
    out->id = 0;
    for (i = 0; i < 3; i++) {
        if (present[i]) {
            where = i + 1;
            out->id = ids[i];
            out->id_len = lens[i];
        }
    }
    if (out->id_len == 4 && memcmp(s + out->id, "None", 4) == 0)
        return 0; /* it would read as NULL in an event line */
    decoded = quote - audio; /* base64's decoded length, as base64_decoded_len counts */
    if (s[quote - 1] == '=')
        decoded -= 1 + (s[quote - 2] == '=');
    out->decoded = decoded * 3 / 4;
    out->ts_us = seconds * 1000000 + micros;
    out->where = where;
    return 1;
}

static int
append_new(PyObject *list, PyObject *item)
{
    int failed;
    if (item == NULL)
        return -1;
    failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed;
}

static PyObject *
scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const char *s;
    Py_ssize_t size, pos, end, nl;
    PyObject *ts = NULL, *ids = NULL, *where = NULL, *decoded = NULL, *result = NULL;
    int64_t total = 0;
    Append a;

    (void)module;
    if (nargs != 3 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "scan(block: bytes, pos: int, end: int)");
        return NULL;
    }
    s = PyBytes_AS_STRING(args[0]);
    size = PyBytes_GET_SIZE(args[0]);
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred())
        return NULL;
    end = PyLong_AsSsize_t(args[2]);
    if (end == -1 && PyErr_Occurred())
        return NULL;
    if (pos < 0 || end >= size) {
        PyErr_SetString(PyExc_ValueError, "scan: pos or end outside the block");
        return NULL;
    }
    while (pos <= end) {
        const char *found = memchr(s + pos, '\n', (size_t)(end + 1 - pos));
        if (found == NULL)
            break;
        nl = found - s;
        if (!match_append(s, pos, nl, &a))
            break;
        if (ts == NULL) {
            ts = PyList_New(0);
            ids = PyList_New(0);
            where = PyList_New(0);
            decoded = PyList_New(0);
            if (ts == NULL || ids == NULL || where == NULL || decoded == NULL)
                goto done;
        }
        if (append_new(ts, PyLong_FromLongLong(a.ts_us)) < 0)
            goto done;
        if (a.id_len < 0) {
            if (PyList_Append(ids, Py_None) < 0)
                goto done;
        }
        else if (append_new(ids, PyUnicode_DecodeASCII(s + a.id, a.id_len, NULL)) < 0)
            goto done;
        if (append_new(where, PyLong_FromLong(a.where)) < 0)
            goto done;
        if (append_new(decoded, PyLong_FromLongLong(a.decoded)) < 0)
            goto done;
        total += a.decoded;
        pos = nl + 1;
    }
    if (ts == NULL)
        Py_RETURN_NONE;
    result = Py_BuildValue("(nOOOOL)", pos, ts, ids, where, decoded, (long long)total);
done:
    Py_XDECREF(ts);
    Py_XDECREF(ids);
    Py_XDECREF(where);
    Py_XDECREF(decoded);
    return result;
}

/* Decimal digits of v at buf (at least 21 bytes); returns the length. */
static Py_ssize_t
put_int(char *buf, int64_t v)
{
    char tmp[24];
    Py_ssize_t n = 0, i;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    i = 0;
    if (v < 0)
        buf[i++] = '-';
    while (n)
        buf[i++] = tmp[--n];
    return i;
}

static int
get_int64(PyObject *o, int64_t *v)
{
    long long x = PyLong_AsLongLong(o);
    if (x == -1 && PyErr_Occurred())
        return -1;
    *v = (int64_t)x;
    return 0;
}

static PyObject *
lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *out, *run, *pieces, *raws, *client_types, *kind;
    PyObject *ts = NULL, *ids = NULL, *where = NULL, *decoded = NULL;
    int64_t line_no, file_index, seq, first_us;
    Py_ssize_t n, i, k, piece_len[9], size;
    const char *piece[9];
    const char *raw_before[4], *raw_after[4];
    Py_ssize_t raw_before_len[4], raw_after_len[4];
    char *buf = NULL, *w;
    Py_ssize_t cap = 0;

    (void)module;
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "lines() takes 10 arguments");
        return NULL;
    }
    out = args[0];
    run = args[1];
    pieces = args[6];
    raws = args[7];
    client_types = args[8];
    kind = args[9];
    if (!PyList_Check(out) || !PyTuple_Check(run) || PyTuple_GET_SIZE(run) != 6 ||
        !PyTuple_Check(pieces) || PyTuple_GET_SIZE(pieces) != 9 || !PyTuple_Check(raws) ||
        PyTuple_GET_SIZE(raws) != 4 || !PyDict_Check(client_types)) {
        PyErr_SetString(PyExc_TypeError, "lines: bad arguments");
        return NULL;
    }
    if (get_int64(args[2], &line_no) < 0 || get_int64(args[3], &file_index) < 0 ||
        get_int64(args[4], &seq) < 0 || get_int64(args[5], &first_us) < 0)
        return NULL;
    if (!PyList_Check(PyTuple_GET_ITEM(run, 1)) || !PyList_Check(PyTuple_GET_ITEM(run, 2)) ||
        !PyList_Check(PyTuple_GET_ITEM(run, 3)) || !PyList_Check(PyTuple_GET_ITEM(run, 4))) {
        PyErr_SetString(PyExc_TypeError, "lines: not a run from scan()");
        return NULL;
    }
    /* Tuples of the lists' items, held for the whole call: converting an item or adding a
       key to client_types may run Python code (__index__, __eq__), which could otherwise
       shrink a list under the loop or free an id still being copied. */
    ts = PyList_AsTuple(PyTuple_GET_ITEM(run, 1));
    ids = PyList_AsTuple(PyTuple_GET_ITEM(run, 2));
    where = PyList_AsTuple(PyTuple_GET_ITEM(run, 3));
    decoded = PyList_AsTuple(PyTuple_GET_ITEM(run, 4));
    if (ts == NULL || ids == NULL || where == NULL || decoded == NULL)
        goto fail;
    n = PyTuple_GET_SIZE(ts);
    if (PyTuple_GET_SIZE(ids) != n || PyTuple_GET_SIZE(where) != n ||
        PyTuple_GET_SIZE(decoded) != n) {
        PyErr_SetString(PyExc_ValueError, "lines: a run's lists differ in length");
        goto fail;
    }
    if (seq > INT64_MAX - n || line_no > INT64_MAX - n) {
        PyErr_SetString(PyExc_OverflowError, "lines: seq or line_no out of range");
        goto fail;
    }
    size = 0;
    for (k = 0; k < 9; k++) {
        PyObject *p = PyTuple_GET_ITEM(pieces, k);
        if (!PyBytes_Check(p)) {
            PyErr_SetString(PyExc_TypeError, "lines: pieces must be bytes");
            goto fail;
        }
        piece[k] = PyBytes_AS_STRING(p);
        piece_len[k] = PyBytes_GET_SIZE(p);
        size += piece_len[k];
    }
    for (k = 0; k < 4; k++) {
        PyObject *pair = PyTuple_GET_ITEM(raws, k), *b, *a;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyBytes_Check(b = PyTuple_GET_ITEM(pair, 0)) ||
            !PyBytes_Check(a = PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "lines: raws must be pairs of bytes");
            goto fail;
        }
        raw_before[k] = PyBytes_AS_STRING(b);
        raw_before_len[k] = PyBytes_GET_SIZE(b);
        raw_after[k] = PyBytes_AS_STRING(a);
        raw_after_len[k] = PyBytes_GET_SIZE(a);
    }
    for (i = 0; i < n; i++) {
        PyObject *id = PyTuple_GET_ITEM(ids, i), *line;
        const char *id_text = "None";
        Py_ssize_t id_len = 4, need;
        int64_t t, d, t_rel;
        long wh = PyLong_AsLong(PyTuple_GET_ITEM(where, i));
        if (wh < 0 || wh > 3) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "lines: where must be 0 to 3");
            goto fail;
        }
        if (get_int64(PyTuple_GET_ITEM(ts, i), &t) < 0 ||
            get_int64(PyTuple_GET_ITEM(decoded, i), &d) < 0)
            goto fail;
        if ((first_us < 0 && t > INT64_MAX + first_us) ||
            (first_us > 0 && t < INT64_MIN + first_us)) {
            PyErr_SetString(PyExc_OverflowError, "lines: ts_us - first_us out of range");
            goto fail;
        }
        t_rel = t - first_us;
        if (id == Py_None)
            wh = 0; /* as expand_run reads it: no id, no id in the JSON */
        else {
            id_text = PyUnicode_AsUTF8AndSize(id, &id_len);
            if (id_text == NULL)
                goto fail;
            if (PyDict_SetItem(client_types, id, kind) < 0)
                goto fail;
        }
        need = size + 6 * 21 + id_len + raw_before_len[wh] + raw_after_len[wh] +
               (wh ? id_len : 0);
        if (need > cap) {
            char *grown = PyMem_Realloc(buf, (size_t)need);
            if (grown == NULL) {
                PyErr_NoMemory();
                goto fail;
            }
            buf = grown;
            cap = need;
        }
        w = buf;
#define PIECE(k)                                  \
    memcpy(w, piece[k], (size_t)piece_len[k]);    \
    w += piece_len[k]
        PIECE(0);
        w += put_int(w, file_index);
        PIECE(1);
        w += put_int(w, seq + i);
        PIECE(2);
        w += put_int(w, line_no + i);
        PIECE(3);
        w += put_int(w, t);
        PIECE(4);
        w += put_int(w, t_rel);
        PIECE(5);
        w += put_int(w, d);
        PIECE(6);
        memcpy(w, id_text, (size_t)id_len);
        w += id_len;
        PIECE(7);
        memcpy(w, raw_before[wh], (size_t)raw_before_len[wh]);
        w += raw_before_len[wh];
        if (wh) {
            memcpy(w, id_text, (size_t)id_len);
            w += id_len;
            memcpy(w, raw_after[wh], (size_t)raw_after_len[wh]);
            w += raw_after_len[wh];
        }
        PIECE(8);
#undef PIECE
        line = PyBytes_FromStringAndSize(buf, w - buf);
        if (append_new(out, line) < 0)
            goto fail;
    }
    PyMem_Free(buf);
    Py_DECREF(ts);
    Py_DECREF(ids);
    Py_DECREF(where);
    Py_DECREF(decoded);
    Py_RETURN_NONE;
fail:
    PyMem_Free(buf);
    Py_XDECREF(ts);
    Py_XDECREF(ids);
    Py_XDECREF(where);
    Py_XDECREF(decoded);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(block, pos, end): the run of usual appends from pos on, or None."},
    {"lines", (PyCFunction)(void (*)(void))lines, METH_FASTCALL,
     "lines(out, run, line_no, file_index, seq, first_us, pieces, raws, client_types, "
     "kind): event lines of a run, appended to out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rtlens.logfile._appends",
    "User audio appends of the usual shape, read and written out in C (optional).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__appends(void)
{
    return PyModule_Create(&module);
}
