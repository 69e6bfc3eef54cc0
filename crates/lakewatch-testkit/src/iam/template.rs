//! A CloudFormation (SAM) template read as the harness needs it: resources by logical id, and
//! any part of it resolved to plain JSON with the intrinsic functions lakewatch's templates use
//! (`Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join`, `Fn::If`, `Fn::Equals`), in their short YAML
//! tags (`!Sub`) or long form. A name nothing resolves is an error that names it.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};
use serde_norway::Value as Yaml;

/// The test account, region and partition every `${AWS::...}` resolves to.
pub const ACCOUNT: &str = "123456789012";
/// The region.
pub const REGION: &str = "us-east-1";

/// What `Ref` and `Fn::GetAtt` resolve to: parameters, pseudo parameters and resources.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// `Ref` values by name.
    pub refs: HashMap<String, String>,
    /// `Fn::GetAtt` values by (logical id, attribute).
    pub attributes: HashMap<(String, String), String>,
}

impl Names {
    /// The pseudo parameters and the given template parameters.
    pub fn new(parameters: &[(&str, &str)]) -> Self {
        let mut refs: HashMap<String, String> =
            parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        for (k, v) in [
            ("AWS::Partition", "aws"),
            ("AWS::Region", REGION),
            ("AWS::AccountId", ACCOUNT),
            ("AWS::StackName", "lakewatch"),
            ("AWS::URLSuffix", "amazonaws.com"),
        ] {
            refs.insert(k.into(), v.into());
        }
        Names { refs, attributes: HashMap::new() }
    }

    /// Records a resource's `Ref` and its `Arn`.
    pub fn resource(&mut self, logical: &str, reference: &str, arn: &str) {
        self.refs.insert(logical.into(), reference.into());
        self.attributes.insert((logical.into(), "Arn".into()), arn.into());
    }
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    doc: Yaml,
}

impl Template {
    /// Reads and parses `path`.
    pub fn load(path: &std::path::Path) -> Result<Template, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Template::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses template text (YAML or JSON).
    pub fn parse(text: &str) -> Result<Template, String> {
        let doc: Yaml = serde_norway::from_str(text).map_err(|e| e.to_string())?;
        Ok(Template { doc })
    }

    /// The names a deployment resolves: `given` parameters, the others' defaults, and the
    /// pseudo parameters. A parameter with neither is an error that names it.
    pub fn names(&self, given: &[(&str, &str)]) -> Result<Names, String> {
        let mut names = Names::new(given);
        let Some(Yaml::Mapping(parameters)) = self.doc.get("Parameters") else { return Ok(names) };
        for (name, definition) in parameters {
            let name = name.as_str().unwrap_or_default();
            if names.refs.contains_key(name) {
                continue;
            }
            let default = match definition.get("Default") {
                Some(Yaml::String(s)) => s.clone(),
                Some(Yaml::Number(n)) => n.to_string(),
                Some(Yaml::Bool(b)) => b.to_string(),
                _ => return Err(format!("parameter `{name}` has no default and no value was given")),
            };
            names.refs.insert(name.to_string(), default);
        }
        Ok(names)
    }

    /// Every resource's logical id and type, in template order.
    pub fn resources(&self) -> Vec<(String, String)> {
        let Some(Yaml::Mapping(resources)) = self.doc.get("Resources") else { return Vec::new() };
        resources
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.get("Type")?.as_str()?.to_string())))
            .collect()
    }

    /// The logical ids of the resources of `kind` (`AWS::IAM::Role`).
    pub fn of_type(&self, kind: &str) -> Vec<String> {
        self.resources().into_iter().filter(|(_, t)| t == kind).map(|(id, _)| id).collect()
    }

    /// A resource's unresolved definition.
    pub fn raw(&self, logical: &str) -> Option<&Yaml> {
        self.doc.get("Resources")?.get(logical)
    }

    /// A resource's `Properties`, resolved.
    pub fn properties(&self, logical: &str, names: &Names) -> Result<Json, String> {
        let raw = self.raw(logical).ok_or_else(|| format!("no resource `{logical}` in the template"))?;
        match raw.get("Properties") {
            Some(p) => self.resolve(p, names).map_err(|e| format!("{logical}: {e}")),
            None => Ok(Json::Object(Map::new())),
        }
    }

    /// Resolves `v`: intrinsic functions applied, YAML turned into JSON.
    pub fn resolve(&self, v: &Yaml, names: &Names) -> Result<Json, String> {
        Ok(match v {
            Yaml::Null => Json::Null,
            Yaml::Bool(b) => Json::Bool(*b),
            Yaml::Number(n) => serde_json::to_value(n).map_err(|e| e.to_string())?,
            Yaml::String(s) => Json::String(s.clone()),
            Yaml::Sequence(list) => Json::Array(list.iter().map(|x| self.resolve(x, names)).collect::<Result<_, _>>()?),
            Yaml::Tagged(t) => {
                let tag = t.tag.to_string();
                self.intrinsic(tag.trim_start_matches('!'), &t.value, names)?
            }
            Yaml::Mapping(m) => {
                if m.len() == 1
                    && let Some((Yaml::String(k), arg)) = m.iter().next()
                    && (k == "Ref" || k.starts_with("Fn::"))
                {
                    return self.intrinsic(k.trim_start_matches("Fn::"), arg, names);
                }
                let mut out = Map::new();
                for (k, v) in m {
                    let key = k.as_str().ok_or_else(|| format!("a key that is not a string: {k:?}"))?;
                    out.insert(key.to_string(), self.resolve(v, names)?);
                }
                Json::Object(out)
            }
        })
    }

    fn intrinsic(&self, function: &str, arg: &Yaml, names: &Names) -> Result<Json, String> {
        let text = |j: Json| match j {
            Json::String(s) => s,
            other => other.to_string(),
        };
        match function {
            "Ref" => {
                let name = arg.as_str().ok_or("Ref takes a name")?;
                names.refs.get(name).cloned().map(Json::String).ok_or_else(|| format!("nothing resolves `!Ref {name}`"))
            }
            "GetAtt" => {
                let (logical, attribute) = match arg {
                    Yaml::String(s) => s.split_once('.').map(|(a, b)| (a.to_string(), b.to_string())),
                    Yaml::Sequence(l) if l.len() == 2 => {
                        Some((l[0].as_str().unwrap_or_default().into(), l[1].as_str().unwrap_or_default().into()))
                    }
                    _ => None,
                }
                .ok_or("GetAtt takes `Resource.Attribute`")?;
                names
                    .attributes
                    .get(&(logical.clone(), attribute.clone()))
                    .cloned()
                    .map(Json::String)
                    .ok_or_else(|| format!("nothing resolves `!GetAtt {logical}.{attribute}`"))
            }
            "Sub" => {
                let (template, vars) = match arg {
                    Yaml::String(s) => (s.clone(), Map::new()),
                    Yaml::Sequence(l) if l.len() == 2 => {
                        let vars = match self.resolve(&l[1], names)? {
                            Json::Object(m) => m,
                            _ => return Err("Sub's second argument is a map".into()),
                        };
                        (l[0].as_str().ok_or("Sub takes a string")?.to_string(), vars)
                    }
                    _ => return Err("Sub takes a string or [string, variables]".into()),
                };
                substitute(&template, |name| {
                    if let Some(v) = vars.get(name) {
                        return Ok(text(v.clone()));
                    }
                    match name.split_once('.') {
                        Some((logical, attribute)) if !name.starts_with("AWS::") => names
                            .attributes
                            .get(&(logical.to_string(), attribute.to_string()))
                            .cloned()
                            .ok_or_else(|| format!("nothing resolves `${{{name}}}`")),
                        _ => names.refs.get(name).cloned().ok_or_else(|| format!("nothing resolves `${{{name}}}`")),
                    }
                })
                .map(Json::String)
            }
            "Join" => {
                let Yaml::Sequence(l) = arg else { return Err("Join takes [separator, list]".into()) };
                let separator = l.first().and_then(Yaml::as_str).ok_or("Join's separator is a string")?;
                let Some(Json::Array(parts)) = l.get(1).map(|x| self.resolve(x, names)).transpose()? else {
                    return Err("Join's second argument is a list".into());
                };
                Ok(Json::String(parts.into_iter().map(text).collect::<Vec<_>>().join(separator)))
            }
            "Equals" => {
                let Yaml::Sequence(l) = arg else { return Err("Equals takes two values".into()) };
                let values = l.iter().map(|x| self.resolve(x, names).map(text)).collect::<Result<Vec<_>, _>>()?;
                Ok(Json::Bool(values.len() == 2 && values[0] == values[1]))
            }
            "If" => {
                let Yaml::Sequence(l) = arg else { return Err("If takes [condition, then, else]".into()) };
                let condition = l.first().and_then(Yaml::as_str).ok_or("If names a condition")?;
                let definition = self
                    .doc
                    .get("Conditions")
                    .and_then(|c| c.get(condition))
                    .ok_or_else(|| format!("no condition `{condition}`"))?;
                let holds = self.resolve(definition, names)? == Json::Bool(true);
                let branch = l.get(if holds { 1 } else { 2 }).ok_or("If takes [condition, then, else]")?;
                self.resolve(branch, names)
            }
            other => Err(format!("the harness does not resolve `Fn::{other}`")),
        }
    }
}

/// `${Name}` replaced by `lookup(Name)`; `${!Literal}` is `${Literal}`.
pub fn substitute(template: &str, lookup: impl Fn(&str) -> Result<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or_else(|| format!("an unclosed `${{` in `{template}`"))? + start;
        let name = &rest[start + 2..end];
        match name.strip_prefix('!') {
            Some(literal) => out.push_str(&format!("${{{literal}}}")),
            None => out.push_str(&lookup(name)?),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  LakeBucketName: { Type: String }
  Days: { Type: Number, Default: 0 }
Conditions:
  Forever: !Equals [!Ref Days, 0]
Resources:
  Key: { Type: AWS::KMS::Key }
  Role:
    Type: AWS::IAM::Role
    Properties:
      Statement:
        - Resource: !Sub "arn:${AWS::Partition}:s3:::${LakeBucketName}/data/*"
        - Resource: !GetAtt Key.Arn
        - Resource: { "Fn::Sub": "${Key.Arn}/x" }
        - Resource: !Join [":", [a, !Ref LakeBucketName]]
        - Resource: !Sub "${!Literal}"
        - Status: !If [Forever, Disabled, Enabled]
"#;

    #[test]
    fn intrinsic_functions_resolve_and_unknown_names_are_named() {
        let t = Template::parse(TEMPLATE).unwrap();
        assert_eq!(t.of_type("AWS::IAM::Role"), ["Role"]);
        let mut names = Names::new(&[("LakeBucketName", "lake"), ("Days", "0")]);
        names.resource("Key", "key-1", "arn:aws:kms:us-east-1:123456789012:key/key-1");
        let p = t.properties("Role", &names).unwrap();
        let got: Vec<&Json> = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_object().unwrap().values().next().unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "arn:aws:s3:::lake/data/*",
                "arn:aws:kms:us-east-1:123456789012:key/key-1",
                "arn:aws:kms:us-east-1:123456789012:key/key-1/x",
                "a:lake",
                "${Literal}",
                "Disabled"
            ]
        );
        let e = t.properties("Role", &Names::new(&[("LakeBucketName", "lake")])).unwrap_err();
        assert_eq!(e, "Role: nothing resolves `!GetAtt Key.Arn`");
    }
}
