/*
 * fuzz_transfer_wire.c - libFuzzer target for a host-to-host transfer's
 * frames (proxy/transfer_wire.c), which come from another host over a
 * network.  The input is a byte stream as it arrives on a link: every
 * frame tw_parse accepts lies within the input, builds back to the very
 * bytes it came from, and parses again to the same fields; a refusal ends
 * the stream, as it ends the link.
 * Any violation abort()s; ASan/UBSan report the rest.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "transfer_wire.h"

static uint8_t out[TW_HDR_LEN + TW_PAYLOAD_MAX];

static void same(const struct tw_frame *a, const struct tw_frame *b)
{
    CHECK(a->type == b->type && memcmp(a->id, b->id, TW_ID_LEN) == 0 &&
          a->src_domid == b->src_domid && a->dst_domid == b->dst_domid &&
          a->length == b->length && a->crc == b->crc && a->phase == b->phase &&
          a->held_us == b->held_us && a->data_len == b->data_len);
    CHECK(a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        struct tw_frame f, g;
        size_t used = 0, again = 0;
        char err[128];
        int rc = tw_parse(data + off, size - off, &f, &used, err, sizeof(err));
        if (rc <= 0) {
            CHECK(rc == 0 || err[0]);
            break;
        }
        CHECK(used >= TW_HDR_LEN && used <= size - off);
        CHECK(!f.data || (f.data >= data + off && f.data + f.data_len <= data + off + used));
        size_t n = tw_build(&f, out);
        CHECK(n == used && memcmp(out, data + off, n) == 0);
        CHECK(tw_parse(out, n, &g, &again, err, sizeof(err)) == 1 && again == n);
        same(&f, &g);
        CHECK(strcmp(tw_type_name(f.type), "?") != 0);
        off += used;
    }
    return 0;
}
