//! How much work one message's rendering may do: nesting depth, loop turns and time.
//!
//! Tera has no limits of its own. A template that includes itself or a macro that calls
//! itself recurses until the thread's stack overflows, which aborts the whole process (a
//! Rust stack overflow cannot be caught); nested loops of 100,000 × 100,000 turns run for
//! hours. [`super::cycle`] refuses recursion when templates load; this module bounds what
//! is left at render time, for every template however it got in:
//!
//! - at load, [`instrument`] puts a call of a hidden function at the start of every `for`
//!   body (a *turn*) and around every `include` and macro body (*enter* / *leave*);
//! - while rendering, those functions count against the thread's [`Budget`]: at most
//!   [`MAX_DEPTH`] nested includes and macro calls, [`MAX_LOOP_TURNS`] loop turns and
//!   [`MAX_RENDER_TIME`] per message. The first bound crossed fails the render with
//!   [`RenderError::LimitExceeded`], naming the bound; the thread stops at once, as the
//!   check runs inside Tera's own loop.
//!
//! The dispatcher renders on tokio's blocking pool through [`off_thread`], so a slow
//! template never holds the async workers that answer `/healthz` and send the other
//! campaigns' messages; it stops waiting after the time bound and a grace, and abandons the
//! render (a blocking thread cannot be killed, but the budget ends it soon after).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use tera::ast::{Expr, ExprVal, FunctionCall, Node, WS};
use tera::{Error, Result, Template, Tera};

use super::error::RenderError;

/// The deepest nesting of includes and macro calls one render may reach. Each level costs
/// Tera several frames of stack; 32 levels fit well inside a 2 MiB thread stack (tokio's
/// blocking threads), and no message template needs more.
pub(crate) const MAX_DEPTH: u32 = 32;
/// The most loop turns one message's rendering may take (all its parts together).
pub(crate) const MAX_LOOP_TURNS: u64 = 1_000_000;
/// The longest one message's rendering may take (all its parts together).
pub(crate) const MAX_RENDER_TIME: Duration = Duration::from_secs(2);

/// The hidden functions [`instrument`] calls; registered on the renderer's Tera.
pub(super) const TURN: &str = "__loa_turn";
pub(super) const ENTER: &str = "__loa_enter";
pub(super) const LEAVE: &str = "__loa_leave";

/// What is left of the work one render may do.
#[derive(Debug)]
struct Budget {
    deadline: Instant,
    turns: u64,
    depth: u32,
    /// The bound crossed, once one is.
    exceeded: Option<String>,
}

thread_local! {
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// Runs `work` under a fresh budget on this thread, unless one is already in force (then
/// `work` shares it: the parts of one message share one budget).
pub(super) fn bounded<T>(work: impl FnOnce() -> T) -> T {
    let fresh = BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        if b.is_some() {
            return false;
        }
        *b = Some(Budget {
            deadline: Instant::now() + MAX_RENDER_TIME,
            turns: 0,
            depth: 0,
            exceeded: None,
        });
        true
    });
    let out = work();
    if fresh {
        BUDGET.with(|b| *b.borrow_mut() = None);
    }
    out
}

/// The depth before a render starts, to restore after it (a failed render leaves its
/// `leave` calls unmade).
pub(super) fn depth() -> u32 {
    BUDGET.with(|b| b.borrow().as_ref().map_or(0, |b| b.depth))
}

/// After a render: puts the depth back, and says which bound it crossed, if any.
pub(super) fn finish(depth: u32) -> Option<String> {
    BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        let b = b.as_mut()?;
        b.depth = depth;
        b.exceeded.clone()
    })
}

/// Registers the functions [`instrument`] calls.
pub(super) fn register(tera: &mut Tera) {
    tera.register_function(TURN, |_: &HashMap<String, Value>| {
        spend(|b| {
            b.turns += 1;
            (b.turns > MAX_LOOP_TURNS).then(|| format!("more than {MAX_LOOP_TURNS} loop turns"))
        })
    });
    tera.register_function(ENTER, |_: &HashMap<String, Value>| {
        spend(|b| {
            b.depth += 1;
            (b.depth > MAX_DEPTH).then(|| {
                format!(
                    "includes and macro calls nested more than {MAX_DEPTH} deep \
                     (a template that includes itself, or a macro that calls itself?)"
                )
            })
        })
    });
    tera.register_function(LEAVE, |_: &HashMap<String, Value>| {
        spend(|b| {
            b.depth = b.depth.saturating_sub(1);
            None
        })
    });
}

/// Charges the thread's budget (none in force: nothing to charge) and checks the clock.
fn spend(charge: impl FnOnce(&mut Budget) -> Option<String>) -> Result<Value> {
    BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        let Some(b) = b.as_mut() else {
            return Ok(Value::String(String::new()));
        };
        let over = charge(b).or_else(|| {
            (Instant::now() > b.deadline).then(|| {
                format!(
                    "rendering took longer than {} s",
                    MAX_RENDER_TIME.as_secs_f64()
                )
            })
        });
        match over {
            Some(why) => {
                b.exceeded.get_or_insert(why.clone());
                Err(Error::msg(why))
            }
            None => Ok(Value::String(String::new())),
        }
    })
}

/// Adds the budget's checks to `template`: a turn at the start of every `for` body, enter
/// and leave around every `include` and every macro body. They print nothing. Run once per
/// template, after parsing and before Tera builds the inheritance chains (which copy the
/// blocks).
pub(super) fn instrument(template: &mut Template) {
    body(&mut template.ast);
    for block in template.blocks.values_mut() {
        body(&mut block.body);
    }
    for def in template.macros.values_mut() {
        def.body = entered(std::mem::take(&mut def.body));
    }
}

fn body(nodes: &mut Vec<Node>) {
    let mut out = Vec::with_capacity(nodes.len());
    for mut node in nodes.drain(..) {
        match &mut node {
            Node::Forloop(_, forloop, _) => {
                body(&mut forloop.body);
                forloop.body.insert(0, call(TURN));
                if let Some(empty) = &mut forloop.empty_body {
                    body(empty);
                }
            }
            Node::MacroDefinition(_, def, _) => {
                body(&mut def.body);
            }
            Node::Block(_, block, _) => body(&mut block.body),
            Node::FilterSection(_, section, _) => body(&mut section.body),
            Node::If(branches, _) => {
                for (_, _, b) in &mut branches.conditions {
                    body(b);
                }
                if let Some((_, b)) = &mut branches.otherwise {
                    body(b);
                }
            }
            _ => {}
        }
        if matches!(node, Node::Include(..)) {
            out.push(call(ENTER));
            out.push(node);
            out.push(call(LEAVE));
        } else {
            out.push(node);
        }
    }
    *nodes = out;
}

/// A macro body wrapped in enter and leave (its nested nodes already instrumented through
/// the template's AST walk would be a copy: `Template::macros` holds its own clone).
fn entered(mut nodes: Vec<Node>) -> Vec<Node> {
    body(&mut nodes);
    let mut out = Vec::with_capacity(nodes.len() + 2);
    out.push(call(ENTER));
    out.extend(nodes);
    out.push(call(LEAVE));
    out
}

/// `{{ name() }}`.
fn call(name: &str) -> Node {
    let expr = Expr::new(ExprVal::FunctionCall(FunctionCall {
        name: name.to_string(),
        args: HashMap::new(),
    }));
    Node::VariableBlock(WS::default(), expr)
}

/// Runs `render` (one message's rendering) on tokio's blocking pool under one budget.
/// Waits at most twice [`MAX_RENDER_TIME`] and a second more (a render may wait for a
/// thread, and the clock is checked between Tera's steps): a render still running then is
/// abandoned and reported as over time (its budget stops it soon after).
pub(crate) async fn off_thread<T: Send + 'static>(
    render: impl FnOnce() -> std::result::Result<T, RenderError> + Send + 'static,
) -> std::result::Result<T, RenderError> {
    let task = tokio::task::spawn_blocking(move || bounded(render));
    let over = || RenderError::LimitExceeded {
        template: String::new(),
        limit: format!(
            "rendering took longer than {} s",
            MAX_RENDER_TIME.as_secs_f64()
        ),
    };
    match tokio::time::timeout(2 * MAX_RENDER_TIME + Duration::from_secs(1), task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(RenderError::Failed {
            template: String::new(),
            message: format!("rendering stopped: {join}"),
        }),
        Err(_) => Err(over()),
    }
}
