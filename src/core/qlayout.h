/*
 * The sizes of the quantized matrices' layout (src/kernels/kernels.h,
 * "quantized weights"), shared by the kernels and the library.
 */
#ifndef TFM_CORE_QLAYOUT_H
#define TFM_CORE_QLAYOUT_H

#define TFM__QK 32                        // values per block along K
#define TFM__QP 16                        // rows per panel
#define TFM__Q8_BLOCK (32 + TFM__QP * 32) // bytes of a Q8 panel-block
#define TFM__Q4_BLOCK (64 + TFM__QP * 16) // bytes of a Q4 panel-block

#endif /* TFM_CORE_QLAYOUT_H */
