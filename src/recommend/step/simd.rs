//! Runs element-wise kernels compiled for AVX2 and FMA when the CPU has them: the build targets
//! baseline x86-64, whose 4-wide SSE halves the speed of the exp-heavy loops. Only code inlined
//! into the kernel gets the features: kernels use plain `for` loops over `#[inline(always)]`
//! helpers, since adapters like `for_each` or `sum` can stay out-of-line, compiled for SSE.
/// Calls `kernel`, inlined into a function compiled with AVX2 and FMA if this CPU has both.
/// The closure must be `#[inline(always)]`: a large one left out of line is compiled for SSE.
#[inline(always)]
pub(crate) fn dispatch<R>(kernel: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features `with_avx2` is compiled for.
            return unsafe { with_avx2(kernel) };
        }
    }
    kernel()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn with_avx2<R>(kernel: impl FnOnce() -> R) -> R {
    kernel()
}
