//! The table's columns: built-in ones, metric, hyperparameter and property columns, their ids
//! (names percent-escaped) and the default layout.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// Characters escaped inside names in column ids and list values.
const NAME: &AsciiSet = &CONTROLS
    .add(b'%')
    .add(b'/')
    .add(b'.')
    .add(b',')
    .add(b':')
    .add(b'~')
    .add(b'!')
    .add(b'<')
    .add(b'>')
    .add(b'=')
    .add(b' ');

/// A name as it appears inside a column id or a value list.
pub fn escape(name: &str) -> String {
    utf8_percent_encode(name, NAME).to_string()
}

pub(super) fn unescape(text: &str, what: &str) -> Result<String, String> {
    percent_decode_str(text).decode_utf8().map(|s| s.into_owned()).map_err(|_| format!("{what} '{text}' is not UTF-8"))
}

/// The most tasks one page holds.
pub const MAX_PAGE: u32 = 1000;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 50;

/// A built-in column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    Id,
    Name,
    Type,
    Status,
    Project,
    User,
    Tags,
    Started,
    Updated,
    Created,
    Completed,
    Iteration,
    /// Seconds from start to completion (or to now, while running).
    Runtime,
    Description,
    Queue,
    Worker,
    Parent,
}

impl Builtin {
    pub const ALL: [Builtin; 17] = [
        Builtin::Id,
        Builtin::Name,
        Builtin::Type,
        Builtin::Status,
        Builtin::Project,
        Builtin::User,
        Builtin::Tags,
        Builtin::Started,
        Builtin::Updated,
        Builtin::Created,
        Builtin::Completed,
        Builtin::Iteration,
        Builtin::Runtime,
        Builtin::Description,
        Builtin::Queue,
        Builtin::Worker,
        Builtin::Parent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Builtin::Id => "id",
            Builtin::Name => "name",
            Builtin::Type => "type",
            Builtin::Status => "status",
            Builtin::Project => "project",
            Builtin::User => "user",
            Builtin::Tags => "tags",
            Builtin::Started => "started",
            Builtin::Updated => "updated",
            Builtin::Created => "created",
            Builtin::Completed => "completed",
            Builtin::Iteration => "iteration",
            Builtin::Runtime => "runtime",
            Builtin::Description => "description",
            Builtin::Queue => "queue",
            Builtin::Worker => "worker",
            Builtin::Parent => "parent",
        }
    }
}

/// Which value of a metric's series a column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Agg {
    Last,
    Min,
    Max,
}

impl Agg {
    pub fn as_str(self) -> &'static str {
        match self {
            Agg::Last => "last",
            Agg::Min => "min",
            Agg::Max => "max",
        }
    }
}

/// A column of the task table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Column {
    Builtin(Builtin),
    Metric {
        metric: String,
        variant: String,
        agg: Agg,
    },
    Param {
        section: String,
        name: String,
    },
    /// A user property (the `properties` hyperparameter section).
    Property {
        name: String,
    },
}

/// What kind of values a column holds, which decides the filters it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Number,
    Date,
    Tags,
    /// Hyperparameters and properties: text, compared as numbers where they are numbers.
    Param,
}

impl Column {
    pub fn kind(&self) -> ColumnKind {
        match self {
            Column::Builtin(b) => match b {
                Builtin::Tags => ColumnKind::Tags,
                Builtin::Started | Builtin::Updated | Builtin::Created | Builtin::Completed => ColumnKind::Date,
                Builtin::Iteration | Builtin::Runtime => ColumnKind::Number,
                _ => ColumnKind::Text,
            },
            Column::Metric { .. } => ColumnKind::Number,
            Column::Param { .. } | Column::Property { .. } => ColumnKind::Param,
        }
    }

    /// The hyperparameter `(section, name)` behind a parameter or property column.
    pub fn param(&self) -> Option<(&str, &str)> {
        match self {
            Column::Param { section, name } => Some((section, name)),
            Column::Property { name } => Some((crate::model::PROPERTIES_SECTION, name)),
            _ => None,
        }
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Builtin(b) => f.write_str(b.as_str()),
            Column::Metric { metric, variant, agg } => {
                write!(f, "metric:{}/{}.{}", escape(metric), escape(variant), agg.as_str())
            }
            Column::Param { section, name } => write!(f, "param:{}/{}", escape(section), escape(name)),
            Column::Property { name } => write!(f, "prop:{}", escape(name)),
        }
    }
}

impl std::str::FromStr for Column {
    type Err = String;

    fn from_str(id: &str) -> Result<Column, String> {
        let bad = |why: &str| format!("unknown column '{id}': {why}");
        let nonempty = |s: String, what: &str| if s.is_empty() { Err(bad(&format!("empty {what}"))) } else { Ok(s) };
        if let Some(rest) = id.strip_prefix("metric:") {
            let (series, agg) =
                rest.rsplit_once('.').ok_or_else(|| bad("expected metric:<metric>/<variant>.<last|min|max>"))?;
            let agg = match agg {
                "last" => Agg::Last,
                "min" => Agg::Min,
                "max" => Agg::Max,
                _ => return Err(bad("the value is one of last, min, max")),
            };
            let (metric, variant) =
                series.split_once('/').ok_or_else(|| bad("expected metric:<metric>/<variant>.<last|min|max>"))?;
            return Ok(Column::Metric {
                metric: nonempty(unescape(metric, "metric")?, "metric")?,
                variant: nonempty(unescape(variant, "variant")?, "variant")?,
                agg,
            });
        }
        if let Some(rest) = id.strip_prefix("param:") {
            let (section, name) = rest.split_once('/').ok_or_else(|| bad("expected param:<section>/<name>"))?;
            return Ok(Column::Param {
                section: nonempty(unescape(section, "section")?, "section")?,
                name: nonempty(unescape(name, "name")?, "name")?,
            });
        }
        if let Some(name) = id.strip_prefix("prop:") {
            return Ok(Column::Property { name: nonempty(unescape(name, "name")?, "property name")? });
        }
        Builtin::ALL.into_iter().find(|b| b.as_str() == id).map(Column::Builtin).ok_or_else(|| {
            let names: Vec<&str> = Builtin::ALL.iter().map(|b| b.as_str()).collect();
            bad(&format!("expected one of {}, metric:…, param:…, prop:…", names.join(", ")))
        })
    }
}

/// The ids of the columns that take a value set (text, tags, hyperparameters, properties), as a
/// regular expression: what `GET /api/v1/table/values` lists values of.
pub fn value_set_column_pattern() -> String {
    let builtins: Vec<&str> = Builtin::ALL
        .into_iter()
        .filter(|b| matches!(Column::Builtin(*b).kind(), ColumnKind::Text | ColumnKind::Tags))
        .map(Builtin::as_str)
        .collect();
    format!("^({}|param:[^/]+/.+|prop:.+)$", builtins.join("|"))
}

/// A column as the table shows it: its width in pixels (the UI's) and whether it is hidden.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    pub column: Column,
    pub width: Option<u32>,
    pub hidden: bool,
}

impl fmt::Display for ColumnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hidden {
            f.write_str("!")?;
        }
        write!(f, "{}", self.column)?;
        if let Some(w) = self.width {
            write!(f, "~{w}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ColumnSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<ColumnSpec, String> {
        let (hidden, rest) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (id, width) = match rest.rsplit_once('~') {
            Some((id, w)) => {
                let w = w.parse::<u32>().ok().filter(|w| (16..=4000).contains(w));
                (id, Some(w.ok_or_else(|| format!("column '{id}': a width is 16 to 4000 pixels"))?))
            }
            None => (rest, None),
        };
        Ok(ColumnSpec { column: id.parse()?, width, hidden })
    }
}

/// The seed's default columns, in order: some hidden until shown.
pub fn default_columns() -> Vec<ColumnSpec> {
    use Builtin::*;
    [Type, Name, Tags, Status, Project, User, Started, Updated, Iteration, Description, Runtime]
        .into_iter()
        .map(|b| ColumnSpec {
            column: Column::Builtin(b),
            width: None,
            hidden: matches!(b, User | Description | Runtime),
        })
        .collect()
}
