//! A statement being composed, with its bound values numbered as it grows (`$1, $2…`, which
//! both backends accept). The table's statements are mostly correlated subqueries and keyset
//! conditions, written as SQL text here rather than through a typed builder.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
    Real(f64),
}

#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql { text: text.to_string(), args: Vec::new() }
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn bind(&mut self, arg: impl Into<Arg>) -> &mut Sql {
        self.args.push(arg.into());
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    /// Appends `(…, …)` of placeholders bound to `values`.
    pub fn bind_list<A: Into<Arg> + Clone>(&mut self, values: &[A]) -> &mut Sql {
        self.push("(");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v.clone());
        }
        self.push(")")
    }

    /// Appends another statement's text, its placeholders renumbered after ours.
    pub fn append(&mut self, other: &Sql) -> &mut Sql {
        let base = self.args.len();
        let mut rest = other.text.as_str();
        while let Some(at) = rest.find('$') {
            self.text.push_str(&rest[..at]);
            let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                self.text.push('$');
                rest = &rest[at + 1..];
                continue;
            }
            let n: usize = rest[at + 1..at + 1 + digits].parse().expect("digits");
            self.text.push_str(&format!("${}", n + base));
            rest = &rest[at + 1 + digits..];
        }
        self.text.push_str(rest);
        self.args.extend(other.args.iter().cloned());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The statement, ready to run.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for arg in &self.args {
            q = match arg {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
                Arg::Real(f) => q.bind(*f),
            };
        }
        q
    }
}

/// A case-insensitive `LIKE … ESCAPE '\'` pattern for text containing `text`.
pub fn like_pattern(text: &str) -> String {
    format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

impl From<i64> for Arg {
    fn from(i: i64) -> Arg {
        Arg::Int(i)
    }
}

impl From<f64> for Arg {
    fn from(f: f64) -> Arg {
        Arg::Real(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_statements_renumber_their_placeholders() {
        let mut a = Sql::new("a = ");
        a.bind(1i64);
        let mut b = Sql::new("b IN ");
        b.bind_list(&["x", "y"]).push(" AND c = '$'");
        a.push(" AND ").append(&b);
        assert_eq!(a.text, "a = $1 AND b IN ($2, $3) AND c = '$'");
        assert_eq!(a.args.len(), 3);
    }
}
