//! Hoosegow: typed, double-walled jails for untrusted code.
//!
//! An inmate is a WebAssembly component (described in WIT, written in any language that
//! compiles to one). A [`Hoosegow`] jail runs each call to it in a fresh wasm instance
//! (the first wall) inside a hardened, throw-away Docker container (the second wall), and
//! brings back its result, output and errors. The in-process backend runs the same core
//! without Docker, with one wall, for development.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hoosegow::Error> {
//! use hoosegow::Hoosegow;
//! use serde_json::json;
//!
//! let jail = Hoosegow::builder()
//!     .inmate_dir("inmates/reverse")
//!     .runner_binary("target/x86_64-unknown-linux-musl/release/jail-runner")
//!     .build()
//!     .await?;
//! jail.build_image(|line| eprintln!("{line}")).await?;
//! assert_eq!(jail.call("reverse", vec![json!("foobar")]).await?, json!("raboof"));
//! # Ok(()) }
//! ```
//!
//! Where things are:
//! - [`jail`]: the handle and its builder; [`call`]: per-call options;
//! - [`docker`]: the Docker backend (endpoint, images, containers, and the session over a
//!   container's attach stream, where a call crosses the wall);
//! - [`in_process`]: the in-process backend;
//! - [`inmate`]: compiling an inmate folder to a component; [`bundle`]: image contents.

pub mod bundle;
pub mod call;
pub mod docker;
pub mod error;
pub mod in_process;
pub mod inmate;
pub mod jail;
pub mod precompiled;
pub mod typed;

/// Generates a typed proxy for an inmate from its WIT world.
///
/// ```no_run
/// hoosegow::bindgen!({ world: "reverse", path: "../inmates/reverse/wit" });
///
/// # async fn demo() -> Result<(), hoosegow::Error> {
/// let jail = hoosegow::Hoosegow::builder().image_name(std::env::var("HOOSEGOW_IMAGE").ok()).build().await?;
/// let reverse = Reverse::new(jail);
/// assert_eq!(reverse.reverse("foobar").await?, "raboof");
/// # Ok(()) }
/// ```
///
/// Generated: a Rust type per named WIT type, a proxy struct named after the world with
/// one async method per export, and (for worlds with imports) a `<World>Imports` trait the
/// application implements to answer callbacks. See `hoosegow_bindgen` for the mapping.
pub use hoosegow_bindgen::bindgen;

/// The methods every generated proxy has. Not part of the public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __proxy_common {
    ($name:ident) => {
        impl $name {
            /// The jail the proxy calls into.
            pub fn jail(&self) -> &$crate::Hoosegow {
                &self.jail
            }

            /// The options every call of this proxy uses.
            pub fn options(&self) -> &$crate::CallOptions {
                &self.options
            }

            /// This proxy with other options (output writers, limits) for its calls;
            /// callbacks registered by `new` stay unless `f` replaces them.
            pub fn with_options(
                mut self,
                f: impl FnOnce($crate::CallOptions) -> $crate::CallOptions,
            ) -> Self {
                self.options = f(self.options);
                self
            }
        }
    };
}

pub use call::CallOptions;
pub use docker::container::{ContainerInfo, ContainerLimits};
pub use docker::endpoint::Endpoint;
pub use docker::pool::PoolConfig;
pub use error::{Error, InmateError, JailEnd};
pub use hoosegow_wire::message::{FailureKind, Limit, LimitHit, Limits};
pub use hoosegow_wire::types;
pub use jail::{Builder, Hoosegow, Traced};
pub use serde_json::Value;
