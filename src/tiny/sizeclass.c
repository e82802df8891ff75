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
