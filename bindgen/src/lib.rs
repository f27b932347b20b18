//! `hoosegow::bindgen!`: a typed Rust proxy for an inmate, generated from its WIT world.
//!
//! ```text
//! hoosegow::bindgen!({ world: "render-reverse", path: "inmates/render-reverse/wit" });
//! ```
//!
//! generates, at the call site:
//! - a Rust type for every named WIT type (records as structs, variants and enums as enums,
//!   flags as structs of bools), with `Lower`/`Lift` impls for the JSON wire form;
//! - a proxy struct named after the world (`RenderReverse`) with one async method per
//!   export, over any [`hoosegow::Hoosegow`] jail (Docker or in-process);
//! - when the world imports functions, a trait (`RenderReverseImports`) with one method per
//!   import, which the application implements to answer the inmate's callbacks.
//!
//! `path` is relative to the invoking crate's `Cargo.toml`, as in wit-bindgen.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use std::collections::HashSet;
use std::path::PathBuf;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token, braced};
use wit_parser::{Function, Resolve, Type, TypeDefKind, TypeId, WorldId, WorldItem, WorldKey};

/// Generates a typed proxy for an inmate's WIT world; see the crate documentation.
#[proc_macro]
pub fn bindgen(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let config = syn::parse_macro_input!(input as Config);
    match generate(&config) {
        Ok(tokens) => tokens.into(),
        Err(message) => syn::Error::new(config.span, message)
            .to_compile_error()
            .into(),
    }
}

struct Config {
    world: String,
    path: String,
    span: Span,
}

impl Parse for Config {
    fn parse(input: ParseStream<'_>) -> syn::Result<Config> {
        let span = input.span();
        let body;
        braced!(body in input);
        let (mut world, mut path) = (None, None);
        while !body.is_empty() {
            let key: Ident = body.parse()?;
            body.parse::<Token![:]>()?;
            let value: LitStr = body.parse()?;
            match key.to_string().as_str() {
                "world" => world = Some(value.value()),
                "path" => path = Some(value.value()),
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{other}`; expected `world` or `path`"),
                    ));
                }
            }
            if !body.is_empty() {
                body.parse::<Token![,]>()?;
            }
        }
        Ok(Config {
            world: world.ok_or_else(|| syn::Error::new(span, "missing `world: \"...\"`"))?,
            path: path.unwrap_or_else(|| "wit".into()),
            span,
        })
    }
}

fn generate(config: &Config) -> Result<TokenStream, String> {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let dir = root.join(&config.path);
    let mut resolve = Resolve::default();
    let (package, sources) = resolve
        .push_path(&dir)
        .map_err(|e| format!("cannot read WIT at {}: {e:#}", dir.display()))?;
    let world = resolve
        .select_world(&[package], Some(&config.world))
        .map_err(|e| format!("no world `{}` in {}: {e:#}", config.world, dir.display()))?;
    let mut generator = Generator {
        resolve: &resolve,
        items: Vec::new(),
        defined: HashSet::new(),
    };
    let proxy = generator.proxy(world)?;
    let items = generator.items;
    // Recompile when the WIT changes.
    let tracked = sources.paths().map(|p| p.display().to_string());
    Ok(quote! {
        #(const _: &[u8] = include_bytes!(#tracked);)*
        #(#items)*
        #proxy
    })
}

struct Generator<'a> {
    resolve: &'a Resolve,
    items: Vec<TokenStream>,
    defined: HashSet<TypeId>,
}

/// One function crossing the wall, as the proxy or the imports trait sees it.
struct Crossing<'a> {
    /// The name on the wire (`func` or `interface#func`).
    wire_name: String,
    /// The Rust method name.
    method: Ident,
    func: &'a Function,
}

impl<'a> Generator<'a> {
    fn proxy(&mut self, world: WorldId) -> Result<TokenStream, String> {
        let world = &self.resolve.worlds[world];
        let name = format_ident!("{}", upper_camel(&world.name));
        let exports = self.crossings(world.exports.iter())?;
        let imports = self.crossings(
            world
                .imports
                .iter()
                .filter(|(key, _)| !is_provided(&self.resolve.name_world_key(key))),
        )?;

        let mut methods = Vec::new();
        for export in &exports {
            methods.push(self.export_method(export)?);
        }
        let doc = format!(
            "A typed proxy for the `{}` world: one async method per export.",
            world.name
        );
        if imports.is_empty() {
            return Ok(quote! {
                #[doc = #doc]
                #[derive(Clone)]
                pub struct #name {
                    jail: ::hoosegow::Hoosegow,
                    options: ::hoosegow::CallOptions,
                }

                impl #name {
                    /// A proxy over `jail`, with the jail's default call options.
                    pub fn new(jail: ::hoosegow::Hoosegow) -> Self {
                        let options = jail.options().clone();
                        Self { jail, options }
                    }
                    #(#methods)*
                }

                ::hoosegow::__proxy_common!(#name);
            });
        }

        let trait_name = format_ident!("{}Imports", name);
        let mut trait_methods = Vec::new();
        let mut registrations = Vec::new();
        for import in &imports {
            let (method, registration) = self.import_method(import)?;
            trait_methods.push(method);
            registrations.push(registration);
        }
        let trait_doc = format!(
            "The callbacks of the `{}` world: implement it to answer the inmate's imports. \
             An `Err` traps the inmate and fails the call with an error naming the callback.",
            world.name
        );
        Ok(quote! {
            #[doc = #trait_doc]
            pub trait #trait_name: ::std::marker::Send + ::std::marker::Sync + 'static {
                #(#trait_methods)*
            }

            #[doc = #doc]
            #[derive(Clone)]
            pub struct #name {
                jail: ::hoosegow::Hoosegow,
                options: ::hoosegow::CallOptions,
            }

            impl #name {
                /// A proxy over `jail` whose callbacks `imports` answers, with the jail's
                /// default call options.
                pub fn new(jail: ::hoosegow::Hoosegow, imports: impl #trait_name) -> Self {
                    let imports = ::std::sync::Arc::new(imports);
                    let mut options = jail.options().clone();
                    #(#registrations)*
                    Self { jail, options }
                }
                #(#methods)*
            }

            ::hoosegow::__proxy_common!(#name);
        })
    }

    /// The functions of a world's imports or exports, defining the types they mention.
    fn crossings<'k>(
        &mut self,
        items: impl Iterator<Item = (&'a WorldKey, &'a WorldItem)>,
    ) -> Result<Vec<Crossing<'a>>, String> {
        let mut out = Vec::new();
        for (key, item) in items {
            match item {
                WorldItem::Function(func) => out.push(Crossing {
                    wire_name: func.name.clone(),
                    method: ident(&snake(&func.name)),
                    func,
                }),
                WorldItem::Interface { id, .. } => {
                    let interface = &self.resolve.interfaces[*id];
                    let short = match key {
                        WorldKey::Name(name) => name.clone(),
                        WorldKey::Interface(_) => interface.name.clone().unwrap_or_default(),
                    };
                    for &ty in interface.types.values() {
                        self.define(ty)?;
                    }
                    for (name, func) in &interface.functions {
                        out.push(Crossing {
                            wire_name: format!("{}#{name}", self.resolve.name_world_key(key)),
                            method: ident(&snake(&format!("{short}-{name}"))),
                            func,
                        });
                    }
                }
                WorldItem::Type { id, .. } => self.define(*id)?,
            }
        }
        Ok(out)
    }

    fn export_method(&mut self, export: &Crossing<'_>) -> Result<TokenStream, String> {
        let Crossing {
            wire_name,
            method,
            func,
        } = export;
        let mut params = Vec::new();
        let mut args = Vec::new();
        for param in &func.params {
            let name = ident(&snake(&param.name));
            let ty = self.param_type(&param.ty)?;
            params.push(quote!(#name: #ty));
            args.push(quote!(::hoosegow::typed::Lower::lower(&#name)));
        }
        let ret = self.result_type(func.result.as_ref())?;
        let doc = format!("Calls the inmate's `{wire_name}` in the jail.");
        Ok(quote! {
            #[doc = #doc]
            pub async fn #method(&self, #(#params),*) -> ::std::result::Result<#ret, ::hoosegow::Error> {
                let args = ::std::vec![#(#args),*];
                let value = self.jail.call_with(#wire_name, args, &self.options).await?;
                ::hoosegow::typed::lift_result(&value)
            }
        })
    }

    fn import_method(
        &mut self,
        import: &Crossing<'_>,
    ) -> Result<(TokenStream, TokenStream), String> {
        let Crossing {
            wire_name,
            method,
            func,
        } = import;
        let mut params = Vec::new();
        let mut names = Vec::new();
        let mut lifts = Vec::new();
        for (i, param) in func.params.iter().enumerate() {
            let name = ident(&snake(&param.name));
            let ty = self.ty(&param.ty)?;
            params.push(quote!(#name: #ty));
            lifts.push(quote!(let #name = ::hoosegow::typed::lift_arg::<#ty>(&args, #i)?;));
            names.push(name);
        }
        let ret = self.result_type(func.result.as_ref())?;
        let doc = format!("Answers the inmate's call to `{wire_name}`.");
        let method_decl = quote! {
            #[doc = #doc]
            fn #method(&self, #(#params),*)
                -> impl ::std::future::Future<Output = ::std::result::Result<#ret, ::std::string::String>> + ::std::marker::Send;
        };
        let registration = quote! {
            {
                let imports = imports.clone();
                options = options.callback(#wire_name, move |args: ::std::vec::Vec<::hoosegow::Value>| {
                    let imports = imports.clone();
                    async move {
                        #(#lifts)*
                        let result = imports.#method(#(#names),*).await?;
                        ::std::result::Result::Ok(::hoosegow::typed::Lower::lower(&result))
                    }
                });
            }
        };
        Ok((method_decl, registration))
    }

    fn result_type(&mut self, ty: Option<&Type>) -> Result<TokenStream, String> {
        match ty {
            Some(ty) => self.ty(ty),
            None => Ok(quote!(())),
        }
    }

    /// How an export takes a parameter: strings as `&str`, lists as slices, other
    /// non-`Copy` values by reference, numbers and chars by value.
    fn param_type(&mut self, ty: &Type) -> Result<TokenStream, String> {
        if let Type::Id(id) = ty {
            let def = &self.resolve.types[*id];
            if def.name.is_none()
                && let TypeDefKind::List(element) = &def.kind
            {
                let element = self.ty(element)?;
                return Ok(quote!(&[#element]));
            }
            if let TypeDefKind::Enum(_) | TypeDefKind::Flags(_) = def.kind {
                return self.ty(ty);
            }
            let ty = self.ty(ty)?;
            return Ok(quote!(&#ty));
        }
        Ok(match ty {
            Type::String => quote!(&str),
            other => self.ty(other)?,
        })
    }

    /// The owned Rust type of a WIT type.
    fn ty(&mut self, ty: &Type) -> Result<TokenStream, String> {
        Ok(match ty {
            Type::Bool => quote!(bool),
            Type::U8 => quote!(u8),
            Type::U16 => quote!(u16),
            Type::U32 => quote!(u32),
            Type::U64 => quote!(u64),
            Type::S8 => quote!(i8),
            Type::S16 => quote!(i16),
            Type::S32 => quote!(i32),
            Type::S64 => quote!(i64),
            Type::F32 => quote!(f32),
            Type::F64 => quote!(f64),
            Type::Char => quote!(char),
            Type::String => quote!(::std::string::String),
            Type::ErrorContext => return Err(async_types()),
            Type::Id(id) => {
                let def = &self.resolve.types[*id];
                if let Some(name) = &def.name {
                    self.define(*id)?;
                    let name = format_ident!("{}", upper_camel(name));
                    return Ok(quote!(#name));
                }
                self.structural(&def.kind)?
            }
        })
    }

    /// The Rust type of an anonymous WIT type.
    fn structural(&mut self, kind: &TypeDefKind) -> Result<TokenStream, String> {
        Ok(match kind {
            TypeDefKind::List(t) => {
                let t = self.ty(t)?;
                quote!(::std::vec::Vec<#t>)
            }
            TypeDefKind::Option(t) => {
                let t = self.ty(t)?;
                quote!(::std::option::Option<#t>)
            }
            TypeDefKind::Result(r) => {
                let ok = self.result_type(r.ok.as_ref())?;
                let err = self.result_type(r.err.as_ref())?;
                quote!(::std::result::Result<#ok, #err>)
            }
            TypeDefKind::Tuple(t) => {
                let types = t
                    .types
                    .iter()
                    .map(|t| self.ty(t))
                    .collect::<Result<Vec<_>, _>>()?;
                quote!((#(#types,)*))
            }
            TypeDefKind::Type(t) => self.ty(t)?,
            TypeDefKind::Handle(_) | TypeDefKind::Resource => return Err(resources()),
            TypeDefKind::Future(_) | TypeDefKind::Stream(_) => return Err(async_types()),
            TypeDefKind::Map(..) => {
                return Err("map types are not supported; use list<tuple<K, V>>".into());
            }
            TypeDefKind::FixedLengthList(..) => {
                return Err("fixed-length lists are not supported".into());
            }
            TypeDefKind::Record(_)
            | TypeDefKind::Variant(_)
            | TypeDefKind::Enum(_)
            | TypeDefKind::Flags(_) => {
                return Err("an anonymous record, variant, enum or flags type".into());
            }
            TypeDefKind::Unknown => return Err("a type of unknown structure".into()),
        })
    }

    /// Emits the Rust item for a named WIT type, once.
    fn define(&mut self, id: TypeId) -> Result<(), String> {
        if !self.defined.insert(id) {
            return Ok(());
        }
        let def = &self.resolve.types[id];
        let Some(wit_name) = &def.name else {
            return Ok(());
        };
        let name = format_ident!("{}", upper_camel(wit_name));
        let doc = def
            .docs
            .contents
            .clone()
            .unwrap_or_else(|| format!("The WIT type `{wit_name}`."));
        let item = match &def.kind {
            TypeDefKind::Record(record) => {
                let mut fields = Vec::new();
                let mut lowers = Vec::new();
                let mut lifts = Vec::new();
                for field in &record.fields {
                    let rust = ident(&snake(&field.name));
                    let ty = self.ty(&field.ty)?;
                    let wire = &field.name;
                    fields.push(quote!(pub #rust: #ty));
                    lowers.push(quote!(map.insert(#wire.to_string(), ::hoosegow::typed::Lower::lower(&self.#rust));));
                    lifts.push(quote!(#rust: ::hoosegow::typed::field(object, #wire, path)?));
                }
                quote! {
                    #[doc = #doc]
                    #[derive(Clone, Debug, PartialEq)]
                    pub struct #name { #(#fields),* }
                    impl ::hoosegow::typed::Lower for #name {
                        fn lower(&self) -> ::hoosegow::Value {
                            let mut map = ::hoosegow::typed::Map::new();
                            #(#lowers)*
                            ::hoosegow::Value::Object(map)
                        }
                    }
                    impl ::hoosegow::typed::Lift for #name {
                        fn lift(value: &::hoosegow::Value, path: &::hoosegow::typed::Path<'_>)
                            -> ::std::result::Result<Self, ::hoosegow::typed::ValueError> {
                            let object = ::hoosegow::typed::object(value, path)?;
                            ::std::result::Result::Ok(Self { #(#lifts),* })
                        }
                    }
                }
            }
            TypeDefKind::Variant(variant) => {
                let mut cases = Vec::new();
                let mut lowers = Vec::new();
                let mut lifts = Vec::new();
                for case in &variant.cases {
                    let rust = format_ident!("{}", upper_camel(&case.name));
                    let wire = &case.name;
                    match &case.ty {
                        Some(ty) => {
                            let ty = self.ty(ty)?;
                            cases.push(quote!(#rust(#ty)));
                            lowers.push(quote!(Self::#rust(v) => ::hoosegow::typed::tag(#wire, ::hoosegow::typed::Lower::lower(v))));
                            lifts.push(quote!(#wire => Self::#rust(::hoosegow::typed::payload(payload, #wire, path)?)));
                        }
                        None => {
                            cases.push(quote!(#rust));
                            lowers.push(
                                quote!(Self::#rust => ::hoosegow::Value::String(#wire.to_string())),
                            );
                            lifts.push(quote!(#wire if payload.is_none() => Self::#rust));
                        }
                    }
                }
                let what = format!("a case of variant {wit_name}");
                quote! {
                    #[doc = #doc]
                    #[derive(Clone, Debug, PartialEq)]
                    pub enum #name { #(#cases),* }
                    impl ::hoosegow::typed::Lower for #name {
                        fn lower(&self) -> ::hoosegow::Value {
                            match self { #(#lowers),* }
                        }
                    }
                    impl ::hoosegow::typed::Lift for #name {
                        fn lift(value: &::hoosegow::Value, path: &::hoosegow::typed::Path<'_>)
                            -> ::std::result::Result<Self, ::hoosegow::typed::ValueError> {
                            let (name, payload) = ::hoosegow::typed::tagged(value, path)?;
                            ::std::result::Result::Ok(match name {
                                #(#lifts,)*
                                _ => return ::std::result::Result::Err(::hoosegow::typed::unknown(path, #what, value)),
                            })
                        }
                    }
                }
            }
            TypeDefKind::Enum(e) => {
                let rust: Vec<Ident> = e
                    .cases
                    .iter()
                    .map(|c| format_ident!("{}", upper_camel(&c.name)))
                    .collect();
                let wire: Vec<&String> = e.cases.iter().map(|c| &c.name).collect();
                let what = format!("a case of enum {wit_name}");
                quote! {
                    #[doc = #doc]
                    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
                    pub enum #name { #(#rust),* }
                    impl ::hoosegow::typed::Lower for #name {
                        fn lower(&self) -> ::hoosegow::Value {
                            ::hoosegow::Value::String(match self { #(Self::#rust => #wire),* }.to_string())
                        }
                    }
                    impl ::hoosegow::typed::Lift for #name {
                        fn lift(value: &::hoosegow::Value, path: &::hoosegow::typed::Path<'_>)
                            -> ::std::result::Result<Self, ::hoosegow::typed::ValueError> {
                            ::std::result::Result::Ok(match value.as_str() {
                                #(::std::option::Option::Some(#wire) => Self::#rust,)*
                                _ => return ::std::result::Result::Err(::hoosegow::typed::unknown(path, #what, value)),
                            })
                        }
                    }
                }
            }
            TypeDefKind::Flags(flags) => {
                let rust: Vec<Ident> = flags.flags.iter().map(|f| ident(&snake(&f.name))).collect();
                let wire: Vec<&String> = flags.flags.iter().map(|f| &f.name).collect();
                let what = format!("a flag of {wit_name}");
                quote! {
                    #[doc = #doc]
                    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
                    pub struct #name { #(pub #rust: bool),* }
                    impl ::hoosegow::typed::Lower for #name {
                        fn lower(&self) -> ::hoosegow::Value {
                            let mut set = ::std::vec::Vec::new();
                            #(if self.#rust { set.push(::hoosegow::Value::String(#wire.to_string())); })*
                            ::hoosegow::Value::Array(set)
                        }
                    }
                    impl ::hoosegow::typed::Lift for #name {
                        fn lift(value: &::hoosegow::Value, path: &::hoosegow::typed::Path<'_>)
                            -> ::std::result::Result<Self, ::hoosegow::typed::ValueError> {
                            let mut flags = Self::default();
                            for name in ::hoosegow::typed::flag_names(value, path)? {
                                match name {
                                    #(#wire => flags.#rust = true,)*
                                    _ => return ::std::result::Result::Err(::hoosegow::typed::unknown(path, #what, value)),
                                }
                            }
                            ::std::result::Result::Ok(flags)
                        }
                    }
                }
            }
            TypeDefKind::Resource | TypeDefKind::Handle(_) => {
                return Err(format!("`{wit_name}`: {}", resources()));
            }
            other => {
                let target = self.structural(other)?;
                quote! {
                    #[doc = #doc]
                    pub type #name = #target;
                }
            }
        };
        self.items.push(item);
        Ok(())
    }
}

/// Imports the runner provides itself; they are not callbacks.
fn is_provided(name: &str) -> bool {
    name.starts_with("wasi:") || name.starts_with("hoosegow:jail/")
}

fn resources() -> String {
    "resources are handles to state inside the jail and cannot cross the wall; use plain values"
        .into()
}

fn async_types() -> String {
    "async types (future, stream, error-context) cannot cross the wall; use callbacks".into()
}

/// `kebab-name` → `kebab_name`.
fn snake(name: &str) -> String {
    name.replace('-', "_").to_lowercase()
}

/// `kebab-name` → `KebabName`.
fn upper_camel(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// An identifier, with a trailing `_` where the name is a Rust keyword.
fn ident(name: &str) -> Ident {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
        "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
        "true", "try", "type", "unsafe", "use", "where", "while", "yield", "abstract", "become",
        "box", "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual",
    ];
    if KEYWORDS.contains(&name) {
        format_ident!("{name}_")
    } else {
        format_ident!("{name}")
    }
}
