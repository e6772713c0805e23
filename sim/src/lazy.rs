//! loom's `lazy_static!`, over the facade's [`LazyLock`](crate::sync::LazyLock).

/// Declares `static ref NAME: T = init;` items as in the `lazy_static` crate (and loom's copy
/// of it): each becomes a `static` [`LazyLock`](crate::sync::LazyLock), initialised on first
/// dereference, with racing first users waiting for one initialiser (a scheduling point).
///
/// As in loom, every simulated execution starts with the item uninitialised (see
/// [`LazyLock`](crate::sync::LazyLock)), so its initialisation race is explored in each.
#[macro_export]
macro_rules! lazy_static {
    ($(#[$attr:meta])* $vis:vis static ref $name:ident : $type:ty = $init:expr ; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::sync::LazyLock<$type> = $crate::sync::LazyLock::new(|| $init);
        $crate::lazy_static!($($rest)*);
    };
    () => {};
}
