//! `with_*` setters for settings structs that are `#[non_exhaustive]`: code
//! outside the crate builds them from their defaults one field at a time,
//! so a field added later breaks nobody.

/// Writes `pub fn $setter(self, value) -> Self` for each listed field.
macro_rules! with_setters {
    ($type:ty { $($setter:ident => $field:ident: $field_type:ty),* $(,)? }) => {
        impl $type {
            $(
                #[doc = concat!("The same value with `", stringify!($field), "` set to `value`.")]
                #[must_use]
                pub fn $setter(mut self, value: $field_type) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

pub(crate) use with_setters;
