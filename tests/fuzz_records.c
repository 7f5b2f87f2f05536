/*
 * fuzz_records.c - libFuzzer target for libxsrecords' parsers: any input
 * must be rejected cleanly or read into a model that writes back (in its
 * own format and byte order) to a stream that reads to the same model.
 * Build with clang (tests/records.cmake); run: fuzz_records [corpus dir].
 */
#include <stdlib.h>
#include <xsrecords.h>

static void check(const struct xsrec_stream *s, const struct xsrec_info *info)
{
    uint8_t *out = NULL;
    size_t len = 0;
    struct xsrec_stream again = { 0 };
    int rc;

    if (info->format == XSREC_FMT_SEED)
        rc = xsrec_write_seed(s, 0, &out, &len, NULL);
    else
        rc = xsrec_write_upstream(s, info->order, 0, &out, &len, NULL);
    if (rc || xsrec_read(out, len, &again, NULL, NULL) || !xsrec_stream_equal(s, &again))
        abort();
    xsrec_stream_free(&again);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xsrec_stream s = { 0 };
    struct xsrec_info info;
    struct xsrec_error err;

    if (xsrec_read(data, size, &s, &info, &err) == 0) {
        check(&s, &info);
        xsrec_stream_free(&s);
    } else if (!err.rule || s.nconns || s.nwatches || s.ntxs || s.nnodes) {
        abort();  /* a failure names its rule and leaves nothing behind */
    }
    return 0;
}
