//! loom's `lazy_static!`, over the facade's [`LazyLock`](crate::sync::LazyLock).

/// Declares `static ref NAME: T = init;` items as in the `lazy_static` crate (and loom's copy
/// of it): each becomes a `static` [`LazyLock`](crate::sync::LazyLock), initialised on first
/// dereference, with racing first users waiting for one initialiser (a scheduling point).
///
/// Departure from loom: loom gives each execution fresh statics; here, as for any `static`
/// `LazyLock`, the value computed in one execution is kept for the next, so an initialisation
/// race is explored only in the first execution that reaches it. Keep state that must start
/// fresh inside the model.
#[macro_export]
macro_rules! lazy_static {
    ($(#[$attr:meta])* $vis:vis static ref $name:ident : $type:ty = $init:expr ; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::sync::LazyLock<$type> = $crate::sync::LazyLock::new(|| $init);
        $crate::lazy_static!($($rest)*);
    };
    () => {};
}
