"""Forms of the public pages; error messages speak pt-BR."""
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

FEEDBACK_COMMENT_MAX = 500


class FeedbackForm(FlaskForm):
    helpful = RadioField(
        "Esta página foi útil?",
        choices=[SelectChoice("sim", "Sim"), SelectChoice("nao", "Não")],
        validators=[InputRequired(message="Escolha “Sim” ou “Não”.")],
    )
    comment = TextAreaField(
        "Comentário (opcional)",
        description=f"Até {FEEDBACK_COMMENT_MAX} caracteres. Não escreva CPF, telefone, e-mail nem dados do seu "
                    "processo: esta mensagem não é lida como pedido e não recebe resposta.",
        validators=[Optional(), Length(max=FEEDBACK_COMMENT_MAX,
                                       message=f"O comentário pode ter até {FEEDBACK_COMMENT_MAX} caracteres.")],
    )
