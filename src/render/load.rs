//! Loading a workspace's `templates/` directory into a [`Renderer`], reporting every problem.
//!
//! Layout: `templates/<name>/` holds `subject.tera`, `text.tera`, `sms.tera`, `html.tera`,
//! `body.tera` (the parts), `zns.yaml`, and any other `*.tera` file as a partial that parts may
//! `include`, `import` or `extend` by its Tera name `<name>/<file>`. Hidden files (`.gitkeep`,
//! editor swap files) are skipped; anything else is an error. Files are UTF-8 (a leading BOM
//! is dropped), at most [`MAX_TEMPLATE_BYTES`], and normalised to NFC like the audience data,
//! so text typed with a decomposing keyboard renders like the rest.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use tera::Template;
use tera::ast::Node;
use unicode_normalization::UnicodeNormalization;

use super::error::TemplateError;
use super::lint::child_bodies;
use super::{MAX_TEMPLATE_BYTES, Parts, Renderer, zns};

const LAYOUT_HINT: &str = "a template directory holds subject.tera, text.tera, sms.tera, \
                           html.tera, body.tera, zns.yaml and partials named *.tera";

/// Loads `dir` into `renderer`; returns every problem found (empty when all is well).
pub(super) fn load_dir(renderer: &mut Renderer, dir: &Path) -> Vec<TemplateError> {
    let mut errors = Vec::new();
    let mut origins = Vec::new();
    let entries = match sorted_entries(dir) {
        Ok(entries) => entries,
        Err(error) => return vec![error.hint("templates live in templates/<name>/")],
    };
    for (file_name, path) in entries {
        if path.is_dir() {
            load_template_dir(renderer, &file_name, &path, &mut origins, &mut errors);
        } else {
            errors.push(
                TemplateError::new(&path, "unexpected file outside a template directory").hint(
                    "templates live in templates/<name>/, e.g. templates/parent_notice/text.tera",
                ),
            );
        }
    }
    errors.extend(check_references(renderer, &origins));
    errors.extend(super::cycle::check(&renderer.tera, &origins));
    for template in renderer.tera.templates.values_mut() {
        super::limits::instrument(template);
    }
    if let Err(e) = renderer.tera.build_inheritance_chains() {
        errors.push(TemplateError::new(dir, super::error::chain_message(&e)));
    }
    errors
}

/// Non-hidden entries of `dir` with UTF-8 names, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, TemplateError> {
    let read = fs::read_dir(dir)
        .map_err(|e| TemplateError::new(dir, format!("cannot read the directory: {e}")))?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry
            .map_err(|e| TemplateError::new(dir, format!("cannot read the directory: {e}")))?;
        let path = entry.path();
        match entry.file_name().into_string() {
            Ok(name) if name.starts_with('.') => {}
            Ok(name) => entries.push((name, path)),
            Err(_) => {
                return Err(TemplateError::new(path, "file name is not valid UTF-8"));
            }
        }
    }
    entries.sort();
    Ok(entries)
}

fn load_template_dir(
    renderer: &mut Renderer,
    name: &str,
    dir: &Path,
    origins: &mut Vec<(String, PathBuf)>,
    errors: &mut Vec<TemplateError>,
) {
    let mut parts = Parts::default();
    let entries = match sorted_entries(dir) {
        Ok(entries) => entries,
        Err(error) => return errors.push(error),
    };
    for (file_name, path) in entries {
        if path.is_dir() {
            errors.push(TemplateError::new(&path, "unexpected directory").hint(LAYOUT_HINT));
            continue;
        }
        let result = if file_name == "zns.yaml" {
            parts.zns = true;
            load_zns(renderer, name, &path, origins)
        } else if let Some(stem) = file_name.strip_suffix(".tera") {
            mark_part(&mut parts, stem);
            let tera_name = format!("{name}/{file_name}");
            origins.push((tera_name.clone(), path.clone()));
            load_tera(renderer, &tera_name, &path)
        } else {
            let hint = if file_name.starts_with("zns.") {
                "the Zalo part is named zns.yaml".to_string()
            } else {
                LAYOUT_HINT.to_string()
            };
            Err(vec![
                TemplateError::new(&path, "unknown file in a template directory").hint(hint),
            ])
        };
        if let Err(found) = result {
            errors.extend(found);
        }
    }
    renderer.parts.insert(name.to_string(), parts);
}

fn mark_part(parts: &mut Parts, stem: &str) {
    match stem {
        "subject" => parts.subject = true,
        "text" => parts.text = true,
        "sms" => parts.sms = true,
        "html" => parts.html = true,
        "body" => parts.body = true,
        _ => {}
    }
}

fn load_tera(
    renderer: &mut Renderer,
    tera_name: &str,
    path: &Path,
) -> Result<(), Vec<TemplateError>> {
    let source = read_source(path).map_err(|e| vec![e])?;
    if let Some(offset) = super::nesting::too_deep(&source) {
        let (line, column) = super::nesting::position(&source, offset);
        let (message, hint) = super::nesting::message();
        return Err(vec![
            TemplateError::new(path, message)
                .at(line, column)
                .hint(hint),
        ]);
    }
    let template = Template::new(tera_name, None, &source)
        .map_err(|e| vec![TemplateError::from_parse(path, &e)])?;
    renderer
        .tera
        .templates
        .insert(tera_name.to_string(), template);
    Ok(())
}

fn load_zns(
    renderer: &mut Renderer,
    name: &str,
    path: &Path,
    origins: &mut Vec<(String, PathBuf)>,
) -> Result<(), Vec<TemplateError>> {
    let source = read_source(path).map_err(|e| vec![e])?;
    let (template, compiled) = zns::compile(name, path, &source)?;
    for param in compiled {
        origins.push((param.name.clone(), path.to_path_buf()));
        renderer.tera.templates.insert(param.name.clone(), param);
    }
    renderer.zns.insert(name.to_string(), template);
    Ok(())
}

/// Reads a template file: size-capped, UTF-8, BOM dropped, NFC.
fn read_source(path: &Path) -> Result<String, TemplateError> {
    let too_large = |size: u64| {
        TemplateError::new(
            path,
            format!(
                "file is {size} bytes; templates are limited to {MAX_TEMPLATE_BYTES} bytes (1 MiB)"
            ),
        )
        .hint("a template holds wording; per-recipient data belongs in the audience CSV")
    };
    let cap = u64::try_from(MAX_TEMPLATE_BYTES).unwrap_or(u64::MAX);
    let unreadable = |e: std::io::Error| TemplateError::new(path, format!("cannot read: {e}"));
    let size = fs::metadata(path).map_err(unreadable)?.len();
    if size > cap {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(cap + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    if bytes.len() > MAX_TEMPLATE_BYTES {
        return Err(too_large(u64::try_from(bytes.len()).unwrap_or(u64::MAX)));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let error = TemplateError::new(path, "file is not valid UTF-8");
        TemplateError {
            line: Some(line),
            ..error
        }
        .hint("save the file as UTF-8")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Ok(text.nfc().collect())
}

/// Reports `extends`, `import` and `include` of templates that are not loaded, and removes the
/// templates that extend or import a missing one (Tera cannot build them).
fn check_references(renderer: &mut Renderer, origins: &[(String, PathBuf)]) -> Vec<TemplateError> {
    let mut errors = Vec::new();
    let templates = &renderer.tera.templates;
    let mut broken = Vec::new();
    for (tera_name, path) in origins {
        let Some(template) = templates.get(tera_name) else {
            continue;
        };
        let mut missing: Vec<String> = Vec::new();
        missing.extend(
            template
                .parent
                .iter()
                .filter(|p| !templates.contains_key(*p))
                .cloned(),
        );
        missing.extend(
            template
                .imported_macro_files
                .iter()
                .map(|(file, _)| file)
                .filter(|f| !templates.contains_key(*f))
                .cloned(),
        );
        if !missing.is_empty() {
            broken.push(tera_name.clone());
        }
        missing.extend(missing_includes(&template.ast, templates));
        for name in missing {
            errors.push(
                TemplateError::new(path, format!("refers to template `{name}`, which is not loaded"))
                    .hint("refer to another template by its name <name>/<file>, e.g. \"shared/footer.tera\""),
            );
        }
    }
    for name in broken {
        renderer.tera.templates.remove(&name);
    }
    errors
}

fn missing_includes(
    nodes: &[Node],
    templates: &std::collections::HashMap<String, Template>,
) -> Vec<String> {
    let mut missing = Vec::new();
    for node in nodes {
        if let Node::Include(_, names, ignore_missing) = node
            && !ignore_missing
            && !names.iter().any(|n| templates.contains_key(n))
        {
            missing.push(names.join(" or "));
        }
        for body in child_bodies(node) {
            missing.extend(missing_includes(body, templates));
        }
    }
    missing
}
