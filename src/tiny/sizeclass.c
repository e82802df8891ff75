/* sizeclass.c — the class tables (the unit tests check them against the rule). */
#include "sizeclass.h"

#define S4(c) HAK_CLASS_SIZE(c), HAK_CLASS_SIZE(c + 1), HAK_CLASS_SIZE(c + 2), HAK_CLASS_SIZE(c + 3)
const uint32_t _hak_class_size[HAK_NCLASS] = {
    0, S4(1), S4(5), S4(9), S4(13), S4(17), S4(21), S4(25), S4(29), S4(33), S4(37), S4(41), S4(45), S4(49),
};

/* (n + 15) >> 4 → class, for n ≤ 1024; entry 0 is the zero-byte class. */
const uint8_t _hak_class_small[HAK_CLASS_TABLE_MAX / 16 + 1] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8,             /* 16 … 128 */
    9, 9, 10, 10, 11, 11, 12, 12,         /* 160 192 224 256 */
    13, 13, 13, 13, 14, 14, 14, 14,       /* 320 384 */
    15, 15, 15, 15, 16, 16, 16, 16,       /* 448 512 */
    17, 17, 17, 17, 17, 17, 17, 17,       /* 640 */
    18, 18, 18, 18, 18, 18, 18, 18,       /* 768 */
    19, 19, 19, 19, 19, 19, 19, 19,       /* 896 */
    20, 20, 20, 20, 20, 20, 20, 20,       /* 1024 */
};

/* The class of m bytes, 256 ≤ m ≤ 256 KiB, as a constant expression: with
 * 2^k < m ≤ 2^(k+1), the classes of that octave are 2^k + j·2^(k-2), j = 1…4. */
#define K_OF(m) ((m) > 1 << 17 ? 17 : (m) > 1 << 16 ? 16 : (m) > 1 << 15 ? 15 : (m) > 1 << 14 ? 14 \
    : (m) > 1 << 13 ? 13 : (m) > 1 << 12 ? 12 : (m) > 1 << 11 ? 11 : (m) > 1 << 10 ? 10 \
    : (m) > 1 << 9 ? 9 : (m) > 1 << 8 ? 8 : 7)
#define CLASS_OF(m) (8 + (K_OF(m) - 7) * 4 \
    + (((m) - (1 << K_OF(m)) + (1 << (K_OF(m) - 2)) - 1) >> (K_OF(m) - 2)))
/* Entry i serves (256·i, 256·(i+1)] bytes (entries below 4 are never read). */
#define M1(i) CLASS_OF(((i) + 1) * 256)
#define M4(i) M1(i), M1((i) + 1), M1((i) + 2), M1((i) + 3)
#define M16(i) M4(i), M4((i) + 4), M4((i) + 8), M4((i) + 12)
#define M64(i) M16(i), M16((i) + 16), M16((i) + 32), M16((i) + 48)
#define M256(i) M64(i), M64((i) + 64), M64((i) + 128), M64((i) + 192)
const uint8_t _hak_class_mid[HAK_CLASS_MAX_SIZE / 256] = { M256(0), M256(256), M256(512), M256(768) };
